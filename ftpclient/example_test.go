package ftpclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ferry-ftp/ferry/ftpclient"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ftpclient.Dial(ctx, "ftp.example.com:21",
		ftpclient.WithTLS(&tls.Config{}), // AUTH TLS, PBSZ 0, PROT P
		ftpclient.WithLogin("alice", "secret"),
		ftpclient.WithKeepAlive(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Resume a download where a previous one stopped.
	f, err := os.OpenFile("big.iso", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	have, _ := f.Seek(0, 2)
	if _, err := c.Retrieve(ctx, "/pub/big.iso", have, f); err != nil {
		log.Fatal(err)
	}

	entries, err := c.List(ctx, "/pub")
	var le *ftpclient.ListError
	if errors.As(err, &le) {
		log.Printf("%d listing lines not understood: %q", len(le.Lines), le.Lines)
	} else if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.Size, e.ModTime)
	}
}

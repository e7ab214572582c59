package sftpserver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestShutdown: Shutdown closes an idle connection at once, lets one
// with an open upload finish it (committed whole), and then returns.
func TestShutdown(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	idle := f.dial(t, "alice", ssh.Password(password))
	busy := f.dial(t, "alice", ssh.Password(password))
	w, err := busy.Create("/up.bin")
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Repeat([]byte("a"), 100_000)
	if _, err := w.Write(first); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- f.srv.Shutdown(ctx)
	}()
	// The idle connection goes: its requests fail.
	waitFor(t, "the idle connection closed", func() bool {
		_, err := idle.Getwd()
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with an upload open: %v", err)
	default:
	}
	if _, err := w.Write(first); err != nil {
		t.Fatalf("the busy connection was cut: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing the upload: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown did not return after the last file closed")
	}
	got, err := os.ReadFile(filepath.Join(f.dir, "up.bin"))
	if err != nil || len(got) != 2*len(first) {
		t.Fatalf("upload after shutdown: %d bytes, %v", len(got), err)
	}
}

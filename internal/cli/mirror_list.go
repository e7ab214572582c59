package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/ftpclient/mirror"
)

// The shell's commands share these pieces of package mirror.
var (
	mirrorDeepestFirst = mirror.DeepestFirst
	mirrorMkdirAll     = mirror.MkdirAll
	mirrorIsSymlink    = mirror.IsSymlink
	mirrorSafeName     = mirror.SafeName
)

// mirrorTempPrefix starts the names of the files a mirror's download is
// written to before it is renamed into place.
const mirrorTempPrefix = mirror.TempPrefix

// mirrorFilter is accepted by listRemoteTree for the shell's rm -r, which
// lists everything.
type mirrorFilter struct{}

// mirrorReporter hears about problems met while listing a tree: failures
// leave what could not be listed alone, warnings do not.
type mirrorReporter interface {
	fail(what string, err error)
	warn(what string, err error)
}

// remoteTree is what a directory on the server holds, by slash-separated
// path relative to it.
type remoteTree struct {
	entries map[string]remoteEntry
}

type remoteEntry struct{ dir bool }

// listRemoteTree lists the tree at root on the server, parallel
// directories at once, for the shell's rm -r. Unusable names and links
// are reported and left out; only a failure to list the root is returned.
func listRemoteTree(ctx context.Context, c *ftpclient.Client, root string, parallel int, _ mirrorFilter, rep mirrorReporter) (*remoteTree, error) {
	t := &remoteTree{entries: map[string]remoteEntry{}}
	var (
		rootSeen bool
		prefix   string
		mu       sync.Mutex
	)
	err := c.WalkConcurrent(ctx, root, parallel, func(p string, e ftp.Entry, err error) error {
		if !rootSeen {
			rootSeen = true
			prefix = strings.TrimSuffix(p, "/") + "/"
			return err
		}
		rel := strings.TrimPrefix(p, prefix)
		if p+"/" == prefix {
			rel = ""
		}
		if err != nil {
			var le *ftpclient.ListError
			if rel == "" && !errors.As(err, &le) {
				return err
			}
			rep.fail("list "+mirrorShow(rel), err)
			return nil
		}
		if !mirror.SafeName(e.Name) {
			rep.warn("list "+mirrorShow(rel), fmt.Errorf("the server listed an unusable name %q", e.Name))
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		mu.Lock()
		t.entries[rel] = remoteEntry{dir: e.IsDir()}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// mirrorRemotePath is the client path of rel below root.
func mirrorRemotePath(root, rel string) string {
	if rel == "" {
		return root
	}
	return path.Join(root, rel)
}

// mirrorShow is how a relative path is shown to the user.
func mirrorShow(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

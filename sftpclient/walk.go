package sftpclient

import (
	"context"

	"github.com/ferry-ftp/ferry/ftpclient"
	"github.com/ferry-ftp/ferry/internal/walk"
)

// WalkConcurrent walks the tree rooted at root as
// [ftpclient.Client.WalkConcurrent] does, with the same order, concurrency
// and meaning of fn's results: fn is called for the root first, for a
// directory before its entries, for the entries of one directory one
// after the other in lexical order; up to parallel directories are listed
// (and fn calls run) at once. A directory that cannot be listed goes to
// fn a second time with the error; with a [*ftpclient.ListError] (names
// that are not one path element, see [Client.List]) the other entries are
// walked if fn returns nil. Symbolic links are not followed.
func (c *Client) WalkConcurrent(ctx context.Context, root string, parallel int, fn ftpclient.WalkFunc) error {
	return walk.Concurrent(ctx, c.abs(root), parallel, c.Stat, c.List, fn)
}

// Package web holds the admin dashboard's files, embedded so that the
// dashboard works with no internet access and no files beside the binary.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Assets is the dashboard's file tree: index.html at its root.
var Assets fs.FS = mustSub(static, "static")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

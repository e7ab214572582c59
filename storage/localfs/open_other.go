//go:build !unix

package localfs

import "os"

// openRegular opens the regular file rel for reading. Here the file keeps
// the name os.Root gives it.
func openRegular(root *os.Root, rel, name string) (*os.File, error) {
	info, err := root.Stat(rel)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	if info, err = f.Stat(); err == nil {
		err = checkRegular(info)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

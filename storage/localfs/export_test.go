package localfs

import "os"

// StagesUnnamed reports whether uploads into dir are staged in unnamed
// files (O_TMPFILE) rather than named temporary files.
func StagesUnnamed(dir string) bool {
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	f, err := openUnnamed(d)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

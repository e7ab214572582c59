//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package cli

// shellKeepOutputProcessing does nothing where raw mode leaves output
// processing alone (Windows consoles).
func shellKeepOutputProcessing(fd int) {}

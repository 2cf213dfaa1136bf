// Package fsutil holds the file system steps that make a change durable.
package fsutil

import (
	"fmt"
	"os"
)

// SyncDir makes a directory's entries (renames, creations, removals)
// durable: without it a rename that returned can still be lost on power
// failure.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Command readfloor reads every package file of a directory once, the way
// pacrepo reads them (detect the compression, decompress to the end,
// SHA-256 of the file), with the same libraries and parallelism, and does
// nothing else: the floor a reset of that directory cannot go below. The
// benchmark script reports reset's time as a ratio to it.
//
//	readfloor DIR
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/testutil/parallel"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: readfloor DIR")
		os.Exit(2)
	}
	paths, err := filepath.Glob(filepath.Join(os.Args[1], "*.pkg.tar*"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "readfloor:", err)
		os.Exit(1)
	}
	if err := parallel.Each(len(paths), func(i int) error { return readOnce(paths[i]) }); err != nil {
		fmt.Fprintln(os.Stderr, "readfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("read %d packages\n", len(paths))
}

// readOnce hashes the file while decompressing it to the end.
func readOnce(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	dr, _, err := compress.NewReader(io.TeeReader(f, h))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer dr.Close()
	if _, err := io.Copy(io.Discard, dr); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// Whatever the decompressor did not need still counts for the hash.
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	h.Sum(nil)
	return nil
}

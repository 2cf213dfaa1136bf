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
	"runtime"
	"sync"

	"github.com/pacrepo/pacrepo/internal/compress"
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
	jobs := make(chan string)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if err := readOnce(p); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, p := range paths {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "readfloor:", err)
		os.Exit(1)
	default:
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

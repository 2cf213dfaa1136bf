package testutil

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Upload writes data to path the way a builder's upload does: as scp does
// (in place, in chunks of at most maxChunk bytes, with pauses of up to
// maxPause) or as rsync does (the same into a temporary dot-file, then a
// rename), chosen by rng.
func Upload(rng *rand.Rand, path string, data []byte, maxChunk int, maxPause time.Duration) error {
	target := path
	if rng.IntN(2) == 0 {
		target = filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".part")
	}
	f, err := os.Create(target)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		n := min(len(data), 1+rng.IntN(maxChunk))
		if _, err := f.Write(data[:n]); err != nil {
			f.Close()
			return err
		}
		data = data[n:]
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(maxPause) + 1)))
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if target != path {
		return os.Rename(target, path)
	}
	return nil
}

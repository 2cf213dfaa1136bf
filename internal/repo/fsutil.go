package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// hashFile returns the SHA-256 and size of the regular file at path.
func hashFile(path string) (string, int64, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

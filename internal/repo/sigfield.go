package repo

import (
	"bytes"
	"encoding/base64"
	"io"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// maxEmbeddedSig is repo-add's limit for a signature written into the
// database; a larger file is not a detached package signature.
const maxEmbeddedSig = 16384

// signatureField returns the %PGPSIG% value of the package signature at
// path: its base64, or "" when there is none or it cannot be embedded
// (armored, too large, unreadable). pacman then downloads the .sig file
// itself, so leaving the field out loses nothing.
func signatureField(path string) string {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxEmbeddedSig+1))
	if err != nil || len(b) == 0 || len(b) > maxEmbeddedSig || bytes.Contains(b, []byte("BEGIN PGP SIGNATURE")) {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

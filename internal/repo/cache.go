package repo

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// The verification cache lets status and update skip re-hashing a
// registered file that has not changed since it was verified. It is a
// JSON file .NAME.pacrepo.cache in the repository directory mapping a file
// name to the stat identity (size, mtime, ctime, inode, device) it had when
// it was read completely, and the SHA-256 that read computed.
//
// A registered file is trusted without reading only when its identity now
// equals the cached one AND the cached SHA-256 and size equal the entry's
// (invariant 1: entries match size and SHA-256). Writing a file changes its
// mtime or ctime; replacing it changes its inode; only someone setting both
// times back by hand on the same inode could fool it, and `check` always
// re-hashes. The cache is an optimisation: when it is missing or unreadable,
// every file is read again.
type verifyCache struct {
	Files map[string]cacheRecord `json:"files"`
}

type cacheRecord struct {
	ID     fileID `json:"id"`
	SHA256 string `json:"sha256"`
	// The binary signature verified for this content, and the keyring it
	// was verified with: a changed .sig or keyring is verified again.
	SigSHA256 string `json:"sig_sha256,omitempty"`
	Keyring   string `json:"keyring,omitempty"`
}

func (r *Repo) loadCache() *verifyCache {
	c := &verifyCache{Files: map[string]cacheRecord{}}
	b, err := os.ReadFile(r.cachePath())
	if err != nil {
		return c
	}
	var got verifyCache
	if json.Unmarshal(b, &got) != nil || got.Files == nil {
		return c
	}
	return &got
}

// saveCache replaces the cache file atomically (temporary name + rename).
// No fsync: losing the cache after a crash costs only time.
func (r *Repo) saveCache(c *verifyCache) {
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	f, err := fsutil.CreateTemp(r.dir(), r.names().CacheFile(), 0o644)
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), r.cachePath()) != nil {
		os.Remove(f.Name())
	}
}

// trusted returns the cached identity when filename is unchanged since it
// was verified with this size and SHA-256.
func (c *verifyCache) trusted(dir, filename string, size int64, sha string) (fileID, bool) {
	rec, ok := c.Files[filename]
	if !ok || rec.SHA256 != sha || rec.ID.Size != size {
		return fileID{}, false
	}
	id, err := statID(filepath.Join(dir, filename))
	return id, err == nil && id == rec.ID
}

// sigVerified tells whether the signature of SHA-256 sigSHA was verified
// for filename holding content sha with the keyring keyringID.
func (c *verifyCache) sigVerified(filename, sha, sigSHA, keyringID string) bool {
	rec, ok := c.Files[filename]
	return ok && rec.SHA256 == sha && rec.SigSHA256 == sigSHA && rec.Keyring == keyringID && sigSHA != ""
}

package repo

import (
	"os"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/binrec"
	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// The verification cache lets status and update skip re-hashing a
// registered file that has not changed since it was verified. It is a file
// .NAME.pacrepo.cache in the repository directory mapping a file name to
// the stat identity (size, mtime, ctime, inode, device) it had when it was
// read completely, and the SHA-256 that read computed. It is read and
// written by every command, so it is a compact binary record (a magic
// line, a CRC-32, then varints and length-prefixed strings) rather than
// JSON, whose decoding cost more than the rest of a change.
//
// A registered file is trusted without reading only when its identity now
// equals the cached one AND the cached SHA-256 and size equal the entry's
// (invariant 1: entries match size and SHA-256). Writing a file changes its
// mtime or ctime; replacing it changes its inode; only someone setting both
// times back by hand on the same inode could fool it, and `check` always
// re-hashes. The cache is an optimisation: when it is missing or unreadable,
// every file is read again.
type verifyCache struct {
	Files map[string]cacheRecord
}

type cacheRecord struct {
	ID     fsutil.FileID
	SHA256 string
	// The binary signature verified for this content, and the keyring it
	// was verified with: a changed .sig or keyring is verified again.
	SigSHA256 string
	Keyring   string
}

func (r *Repo) loadCache() *verifyCache {
	b, err := os.ReadFile(r.cachePath())
	if err != nil {
		return &verifyCache{Files: map[string]cacheRecord{}}
	}
	return decodeCache(b)
}

// saveCache replaces the cache file atomically (temporary name + rename).
// No fsync: losing the cache after a crash costs only time.
func (r *Repo) saveCache(c *verifyCache) {
	f, err := fsutil.CreateTemp(r.dir(), r.names().CacheFile(), 0o644)
	if err != nil {
		return
	}
	_, werr := f.Write(encodeCache(c))
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), r.cachePath()) != nil {
		os.Remove(f.Name())
	}
}

const cacheMagic = "pacrepo-cache-2\n"

func encodeCache(c *verifyCache) []byte {
	var w binrec.Writer
	w.Int(int64(len(c.Files)))
	for name, rec := range c.Files {
		w.String(name)
		w.Int(rec.ID.Size)
		w.Int(rec.ID.MTimeNS)
		w.Int(rec.ID.CTimeNS)
		w.Int(int64(rec.ID.Inode))
		w.Int(int64(rec.ID.Dev))
		w.String(rec.SHA256)
		w.String(rec.SigSHA256)
		w.String(rec.Keyring)
	}
	return w.Seal(cacheMagic)
}

// decodeCache reads what encodeCache wrote; anything else is an empty
// cache.
func decodeCache(data []byte) *verifyCache {
	empty := &verifyCache{Files: map[string]cacheRecord{}}
	r, err := binrec.Open(data, cacheMagic)
	if err != nil {
		return empty
	}
	n := r.Count(9) // nine fields of at least a byte
	c := &verifyCache{Files: make(map[string]cacheRecord, n)}
	for range n {
		name := r.String()
		c.Files[name] = cacheRecord{ID: fsutil.FileID{Size: r.Int(), MTimeNS: r.Int(), CTimeNS: r.Int(), Inode: uint64(r.Int()), Dev: uint64(r.Int())},
			SHA256: r.String(), SigSHA256: r.String(), Keyring: r.String()}
	}
	if r.Err() != nil {
		return empty
	}
	return c
}

// trusted returns the cached identity when filename is unchanged since it
// was verified with this size and SHA-256.
func (c *verifyCache) trusted(dir, filename string, size int64, sha string) (fsutil.FileID, bool) {
	rec, ok := c.Files[filename]
	if !ok || rec.SHA256 != sha || rec.ID.Size != size {
		return fsutil.FileID{}, false
	}
	id, err := fsutil.StatID(filepath.Join(dir, filename))
	return id, err == nil && id == rec.ID
}

// sigVerified tells whether the signature of SHA-256 sigSHA was verified
// for filename holding content sha with the keyring keyringID.
func (c *verifyCache) sigVerified(filename, sha, sigSHA, keyringID string) bool {
	rec, ok := c.Files[filename]
	return ok && rec.SHA256 == sha && rec.SigSHA256 == sigSHA && rec.Keyring == keyringID && sigSHA != ""
}

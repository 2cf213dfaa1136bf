package repo

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"

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
	ID     fileID
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
	var b []byte
	putInt := func(v int64) { b = binary.AppendVarint(b, v) }
	putStr := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	putInt(int64(len(c.Files)))
	for name, rec := range c.Files {
		putStr(name)
		putInt(rec.ID.Size)
		putInt(rec.ID.MTimeNS)
		putInt(rec.ID.CTimeNS)
		putInt(int64(rec.ID.Inode))
		putInt(int64(rec.ID.Dev))
		putStr(rec.SHA256)
		putStr(rec.SigSHA256)
		putStr(rec.Keyring)
	}
	out := append([]byte(cacheMagic), binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b))...)
	return append(out, b...)
}

// decodeCache reads what encodeCache wrote; anything else is an empty
// cache.
func decodeCache(data []byte) *verifyCache {
	empty := &verifyCache{Files: map[string]cacheRecord{}}
	rest, ok := bytes.CutPrefix(data, []byte(cacheMagic))
	if !ok || len(rest) < 4 {
		return empty
	}
	b := rest[4:]
	if crc32.ChecksumIEEE(b) != binary.BigEndian.Uint32(rest) {
		return empty
	}
	bad := false
	getInt := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	getStr := func() string {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > uint64(len(b)-n) {
			bad = true
			return ""
		}
		s := string(b[n : n+int(v)])
		b = b[n+int(v):]
		return s
	}
	count := getInt()
	if count < 0 || count > int64(len(b)) {
		return empty
	}
	c := &verifyCache{Files: make(map[string]cacheRecord, count)}
	for range count {
		name := getStr()
		rec := cacheRecord{ID: fileID{Size: getInt(), MTimeNS: getInt(), CTimeNS: getInt(), Inode: uint64(getInt()), Dev: uint64(getInt())},
			SHA256: getStr(), SigSHA256: getStr(), Keyring: getStr()}
		if bad {
			return empty
		}
		c.Files[name] = rec
	}
	if len(b) != 0 {
		return empty
	}
	return c
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

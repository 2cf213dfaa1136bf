package repo

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/binrec"
	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
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
	// others are the records a partial load left encoded (loadCache with
	// a filter), in runs as they lay in the file: a change of one package
	// looks at a handful of records of a cache of 100,000, and saving
	// copies the others unchanged, before Files (when a name is in both, the
	// later record wins on reading).
	others     [][]byte
	otherCount int
}

type cacheRecord struct {
	ID     fsutil.FileID
	SHA256 string
	// The binary signature verified for this content, and the keyring it
	// was verified with: a changed .sig or keyring is verified again.
	SigSHA256 string
	Keyring   string
	// Libs are the sonames the file's ELF files provide and need, as its
	// read found them; nil when not known (a record of a file that was
	// not read here). check --deps and the links database take them from
	// here rather than read every registered package again.
	Libs *pkgfile.Libraries
}

// loadCache reads the cache; with want, only the records of the file names
// it wants are decoded into Files (the others are saved as they were).
func (r *Repo) loadCache(want func(filename string) bool) *verifyCache {
	b, err := os.ReadFile(r.cachePath())
	if err != nil {
		return &verifyCache{Files: map[string]cacheRecord{}}
	}
	return decodeCache(b, want)
}

// saveCache replaces the cache file atomically (temporary name + rename).
// No fsync: losing the cache after a crash costs only time.
func (r *Repo) saveCache(c *verifyCache) {
	f, err := fsutil.CreateTemp(r.dir(), r.names().CacheFile(), 0o644)
	if err != nil {
		return
	}
	w := binrec.NewFileWriter(f, cacheMagic) // megabytes at 100,000 packages
	putCache(w, c)
	werr := w.Close()
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), r.cachePath()) != nil {
		os.Remove(f.Name())
	}
}

const cacheMagic = "pacrepo-cache-3\n"

// encodeCache is c as a binrec record, in memory.
func encodeCache(c *verifyCache) []byte {
	var w binrec.Writer
	putCache(&w, c)
	return w.Seal(cacheMagic)
}

// putCache writes c to w: the records a partial load left encoded, as they
// were, then those of Files.
func putCache(w *binrec.Writer, c *verifyCache) {
	w.Int(int64(c.otherCount + len(c.Files)))
	for _, run := range c.others {
		w.Raw(run)
	}
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
		putLibs(w, rec.Libs)
	}
}

// putLibs writes libs (nil: not known) as a flag and two lists of
// sonames; the sonames a read skipped are not kept.
func putLibs(w *binrec.Writer, libs *pkgfile.Libraries) {
	if libs == nil {
		w.Int(0)
		return
	}
	w.Int(1)
	for _, list := range [][]pkgfile.Soname{libs.Provides, libs.Needed} {
		w.Int(int64(len(list)))
		for _, s := range list {
			w.String(s.Name)
			w.Int(int64(s.Bits))
		}
	}
}

// skipLibs passes over what putLibs wrote.
func skipLibs(r *binrec.Reader) {
	if r.Int() == 0 {
		return
	}
	for range 2 {
		for range r.Count(2) {
			r.Bytes()
			r.Int()
		}
	}
}

// getLibs reads what putLibs wrote.
func getLibs(r *binrec.Reader) *pkgfile.Libraries {
	if r.Int() == 0 {
		return nil
	}
	libs := &pkgfile.Libraries{}
	for _, list := range []*[]pkgfile.Soname{&libs.Provides, &libs.Needed} {
		n := r.Count(2)
		for range n {
			*list = append(*list, pkgfile.Soname{Name: r.String(), Bits: int(r.Int())})
		}
	}
	return libs
}

// decodeCache reads what encodeCache wrote; anything else is an empty
// cache. With want, the records of other names stay encoded.
func decodeCache(data []byte, want func(filename string) bool) *verifyCache {
	empty := &verifyCache{Files: map[string]cacheRecord{}}
	r, err := binrec.Open(data, cacheMagic)
	if err != nil {
		return empty
	}
	n := r.Count(10) // ten fields of at least a byte
	c := &verifyCache{Files: map[string]cacheRecord{}}
	if want == nil {
		c.Files = make(map[string]cacheRecord, n)
	}
	for range n {
		m := r.Mark()
		name := r.View() // copied below when kept
		if want != nil && !want(name) {
			for range 5 {
				r.Int()
			}
			for range 3 {
				r.Bytes()
			}
			skipLibs(r)
			c.otherCount++
			raw := r.Since(m)
			if k := len(c.others) - 1; k >= 0 && adjacent(c.others[k], raw) {
				c.others[k] = c.others[k][:len(c.others[k])+len(raw)]
			} else {
				c.others = append(c.others, raw)
			}
			continue
		}
		c.Files[strings.Clone(name)] = cacheRecord{ID: fsutil.FileID{Size: r.Int(), MTimeNS: r.Int(), CTimeNS: r.Int(), Inode: uint64(r.Int()), Dev: uint64(r.Int())},
			SHA256: r.String(), SigSHA256: r.String(), Keyring: r.String(), Libs: getLibs(r)}
	}
	if r.Err() != nil {
		return empty
	}
	return c
}

// adjacent tells whether b starts where a, a slice of the same array,
// ends.
func adjacent(a, b []byte) bool {
	return cap(a) > len(a) && len(b) > 0 && &a[:len(a)+1][len(a)] == &b[0]
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

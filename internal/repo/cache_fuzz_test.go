package repo

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// FuzzVerifyCache feeds scan a corrupt or hostile verification cache. The
// cache may only spare a read: a file is trusted only when the cache names
// its current identity (size, mtime, ctime, inode, device: what writing or
// replacing it changes) together with the very SHA-256 and size the entry
// registers. Anything else, or an unreadable cache, means a full read.
// (check never uses the cache.)
func FuzzVerifyCache(f *testing.F) {
	r := newRepo(f)
	dir := r.dir()
	path := mkpkg(f, dir, "foo", "1-1")
	name := filepath.Base(path)
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	sha, size := sha256Hex(b), int64(len(b))
	id, err := fsutil.StatID(path)
	if err != nil {
		f.Fatal(err)
	}
	for _, files := range []map[string]cacheRecord{
		{name: {ID: id, SHA256: sha}},
		{name: {ID: id, SHA256: "0000"}},
		{name: {ID: fsutil.FileID{Size: size, MTimeNS: id.MTimeNS}, SHA256: sha}},
		{name: {SHA256: sha}},
		{"./" + name: {ID: id, SHA256: sha}},
		{name: {ID: id, SHA256: sha, SigSHA256: "ab", Keyring: "k"}, "other": {}},
		{},
	} {
		f.Add(encodeCache(&verifyCache{Files: files}))
	}
	f.Add([]byte(cacheMagic))
	f.Add([]byte(`{"files":{}}`)) // the former JSON cache
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(r.cachePath(), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c := r.loadCache(nil)
		if c == nil || c.Files == nil {
			t.Fatalf("cache %q loads as nothing usable", data)
		}
		for _, claim := range []struct {
			sha  string
			size int64
		}{{sha, size}, {"0000", size}, {sha, size + 1}, {"", 0}} {
			got, ok := c.trusted(dir, name, claim.size, claim.sha)
			rec, named := c.Files[name]
			// A record naming the file's current identity can only have
			// been written after the file was: by pacrepo, which writes the
			// SHA-256 it computed, or by someone who can write the
			// repository directory and so could rewrite the database entry
			// as well. A stale record, or one copied along with the
			// repository, never has the current ctime, inode and device.
			want := named && rec.ID == id && rec.SHA256 == claim.sha && rec.ID.Size == claim.size
			if ok != want {
				t.Fatalf("cache %q: trusted(%s, %d) = %v, want %v", data, claim.sha, claim.size, ok, want)
			}
			if ok && got != id {
				t.Fatalf("cache %q: trusted gives identity %+v, the file has %+v", data, got, id)
			}
		}
		// What loads saves and loads back the same.
		if again := decodeCache(encodeCache(c), nil); !reflect.DeepEqual(again, c) {
			t.Fatalf("cache %q does not survive a round trip", data)
		}
		// A change loads the records of its files only, changes them and
		// saves: the others come through untouched.
		want := func(filename string) bool { return len(filename)%2 == 0 }
		change := func(c *verifyCache) *verifyCache {
			var wanted []string
			for filename := range c.Files {
				if want(filename) {
					wanted = append(wanted, filename)
				}
			}
			if len(wanted) > 0 {
				delete(c.Files, slices.Min(wanted))
			}
			c.Files["ab"] = cacheRecord{ID: id, SHA256: sha}
			return decodeCache(encodeCache(c), nil)
		}
		partly, whole := change(decodeCache(data, want)), change(decodeCache(data, nil))
		if !reflect.DeepEqual(partly, whole) {
			t.Fatalf("cache %q: changed after a partial load it holds %v, after a whole load %v", data, partly.Files, whole.Files)
		}
	})
}

// A registered file replaced by another of the same size between its
// verification and the end of the command must not enter the cache with
// the verified SHA-256.
func TestRememberVerifiedSkipsReplacedFile(t *testing.T) {
	r := newRepo(t)
	path := mkpkg(t, r.dir(), "foo", "1-1")
	f, prob := readPackage(path)
	if prob != nil {
		t.Fatal(prob.Err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff // same size, other content, written later
	later := time.Unix(0, f.ModTime).Add(time.Second)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	r.rememberVerified([]*verifiedFile{&f})
	if _, ok := r.loadCache(nil).trusted(r.dir(), f.Filename, f.CSize, f.SHA256); ok {
		t.Fatal("a replaced file is trusted with the SHA-256 of the file it replaced")
	}
	f.ModTime = later.UnixNano()
	f.SHA256 = sha256Hex(b)
	r.rememberVerified([]*verifiedFile{&f})
	if _, ok := r.loadCache(nil).trusted(r.dir(), f.Filename, f.CSize, f.SHA256); !ok {
		t.Fatal("a verified, unchanged file is not remembered")
	}
}

// TestUpdateCacheSkipsFileReplacedWithSameTimes: a file replaced after its
// read by one of the same size and modification time (only its inode and
// ctime tell) is not recorded with the hash of the file that was read.
func TestUpdateCacheSkipsFileReplacedWithSameTimes(t *testing.T) {
	r := newRepo(t)
	path := mkpkg(t, r.dir(), "foo", "1-1")
	f, prob := readPackage(path)
	if prob != nil {
		t.Fatal(prob.Err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	same := time.Unix(0, f.ModTime)
	if err := os.Chtimes(tmp, same, same); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	s := &scanResult{present: map[string]bool{f.Filename: true}}
	c := r.loadCache(nil)
	r.updateCache(c, s, []verifiedFile{f})
	if _, ok := r.loadCache(nil).trusted(r.dir(), f.Filename, f.CSize, f.SHA256); ok {
		t.Fatal("a replaced file is trusted with the SHA-256 of the file it replaced")
	}
	// The very file read is recorded.
	path2 := mkpkg(t, r.dir(), "bar", "1-1")
	g, prob := readPackage(path2)
	if prob != nil {
		t.Fatal(prob.Err)
	}
	s.present[g.Filename] = true
	r.updateCache(r.loadCache(nil), s, []verifiedFile{g})
	if _, ok := r.loadCache(nil).trusted(r.dir(), g.Filename, g.CSize, g.SHA256); !ok {
		t.Fatal("a verified, unchanged file is not remembered")
	}
}

package repodb

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dotFiles lists the hidden files of dir: temporaries we must not leave.
// dotFiles are the temporaries left in dir: dot-files other than the
// index, which a write leaves on purpose.
func dotFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") && !strings.HasSuffix(de.Name(), ".pacrepo.index") {
			out = append(out, de.Name())
		}
	}
	return out
}

func TestWriteLinksOldAndPermissions(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	loc := Location{Dir: dir, Name: "repo", Ext: ".tar.zst"}
	first := sampleEntries(2, 3)
	if err := Write(loc, first, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{loc.DBPath(), loc.FilesPath()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", p, fi.Mode().Perm())
		}
		if _, err := os.Lstat(p + ".old"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s.old exists after the first write: %v", p, err)
		}
	}
	for link, target := range map[string]string{loc.DBLink(): loc.DBFile(), loc.FilesLink(): loc.FilesFile()} {
		got, err := os.Readlink(link)
		if err != nil || got != target {
			t.Errorf("link %s -> %q (%v), want relative %q", link, got, err, target)
		}
	}
	firstDB, _ := os.ReadFile(loc.DBPath())
	firstFiles, _ := os.ReadFile(loc.FilesPath())

	// A signature of the first db, as repo-add -s would leave it.
	writeFile(t, loc.DBPath()+".sig", []byte("sig"))
	if err := os.Symlink(loc.DBFile()+".sig", loc.DBLink()+".sig"); err != nil {
		t.Fatal(err)
	}

	second := sampleEntries(3, 1)
	if err := Write(loc, second, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][]byte{loc.DBPath() + ".old": firstDB, loc.FilesPath() + ".old": firstFiles} {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s does not hold the previous database (%v)", p, err)
		}
	}
	if _, err := os.Lstat(loc.DBPath() + ".sig"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale signature left beside the new db: %v", err)
	}
	if got, _ := os.ReadFile(loc.DBPath() + ".old.sig"); string(got) != "sig" {
		t.Errorf("signature not kept as .old.sig: %q", got)
	}
	if _, err := os.Lstat(loc.DBLink() + ".sig"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale signature link left: %v", err)
	}
	got, err := ReadLocation(loc, ReadOptions{Files: true})
	if err != nil || !reflect.DeepEqual(got, second) {
		t.Errorf("read back %+v, %v", got, err)
	}
	// Reading through the link works too.
	viaLink, err := ParseLocation(loc.DBLink())
	if err != nil || viaLink != loc {
		t.Errorf("ParseLocation(link) = %+v, %v; want %+v", viaLink, err, loc)
	}
	if names := dotFiles(t, dir); len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

// failingWriter fails after n bytes, like a full disk.
type failingWriter struct {
	w io.Writer
	n int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, errors.New("injected write failure")
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestWriteFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	loc := Location{Dir: dir, Name: "repo", Ext: ".tar.gz"}
	if err := Write(loc, sampleEntries(2, 2), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, p := range []string{loc.DBPath(), loc.FilesPath()} {
		before[p], _ = os.ReadFile(p)
	}
	for _, limit := range []int{0, 100, 1000} {
		testHookWriter = func(w io.Writer) io.Writer { return &failingWriter{w: w, n: limit} }
		err := Write(loc, sampleEntries(200, 20), WriteOptions{})
		testHookWriter = nil
		if err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("limit %d: Write = %v, want the injected failure", limit, err)
		}
		for p, want := range before {
			if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
				t.Errorf("limit %d: %s changed by a failed write", limit, p)
			}
			if _, err := os.Lstat(p + ".old"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("limit %d: %s.old made by a failed write", limit, p)
			}
		}
		if names := dotFiles(t, dir); len(names) != 0 {
			t.Errorf("limit %d: temporary files left: %v", limit, names)
		}
	}
	// An invalid entry fails before anything is created.
	bad := sampleEntries(1, 0)
	bad[0].Desc = "two\nlines"
	if err := Write(loc, bad, WriteOptions{}); err == nil {
		t.Error("Write accepted a value with a newline")
	}
	dup := append(sampleEntries(1, 0), sampleEntries(1, 0)...)
	if err := Write(loc, dup, WriteOptions{}); err == nil {
		t.Error("Write accepted two entries of one package")
	}
	if names := dotFiles(t, dir); len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	entries := sampleEntries(5, 5)
	reversed := make([]Entry, len(entries))
	for i := range entries {
		reversed[len(entries)-1-i] = entries[i]
	}
	a := Location{Dir: t.TempDir(), Name: "r", Ext: ".tar.zst"}
	b := Location{Dir: t.TempDir(), Name: "r", Ext: ".tar.zst"}
	if err := Write(a, entries, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, reversed, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(Location) string{Location.DBPath, Location.FilesPath} {
		x, _ := os.ReadFile(f(a))
		y, _ := os.ReadFile(f(b))
		if !bytes.Equal(x, y) {
			t.Errorf("%s: same entries in another order give other bytes", filepath.Base(f(a)))
		}
	}
}

func TestPGPSigOption(t *testing.T) {
	e := sampleEntries(1, 0)[0]
	e.PGPSig = "c2lnbmF0dXJl"
	e.MD5Sum = "0123456789abcdef0123456789abcdef"
	var without, with bytes.Buffer
	WriteDesc(&without, &e, false)
	WriteDesc(&with, &e, true)
	if strings.Contains(without.String(), "%PGPSIG%") || strings.Contains(with.String(), "%MD5SUM%") {
		t.Errorf("PGPSIG without the option or MD5SUM written:\n%s\n%s", without.String(), with.String())
	}
	if !strings.Contains(with.String(), "%SHA256SUM%\n"+e.SHA256Sum+"\n\n%PGPSIG%\nc2lnbmF0dXJl\n\n%URL%") {
		t.Errorf("PGPSIG not between SHA256SUM and URL:\n%s", with.String())
	}
}

func TestParseLocation(t *testing.T) {
	dir := t.TempDir()
	for path, want := range map[string]Location{
		filepath.Join(dir, "core.db.tar.zst"):          {dir, "core", ".tar.zst"},
		filepath.Join(dir, "core.files.tar.gz"):        {dir, "core", ".tar.gz"},
		filepath.Join(dir, "my.db.repo.db.tar"):        {dir, "my.db.repo", ".tar"},
		filepath.Join(dir, "x-y_z.db.tar.lz4"):         {dir, "x-y_z", ".tar.lz4"},
		filepath.Join(dir, "sub", "..", "a.db.tar.xz"): {dir, "a", ".tar.xz"},
	} {
		got, err := ParseLocation(path)
		if err != nil || got != want {
			t.Errorf("ParseLocation(%q) = %+v, %v; want %+v", path, got, err, want)
		}
	}
	rel, err := ParseLocation("r.db.tar.bz2")
	if wd, _ := os.Getwd(); err != nil || rel.Dir != wd {
		t.Errorf("relative path: %+v, %v", rel, err)
	}
	writeFile(t, filepath.Join(dir, "plain.db"), []byte("a copy"))
	for _, bad := range []string{"core.db.tar.Z", "core.tar.zst", "core.db.zst", ".db.tar.gz", "core", "plain.db", "missing.db",
		filepath.Join(dir, "plain.db"), filepath.Join(dir, "missing.files")} {
		if loc, err := ParseLocation(bad); !errors.Is(err, ErrInvalidLocation) || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseLocation(%q) = %+v, %v; want ErrInvalidLocation naming the path", bad, loc, err)
		}
	}
	loc := Location{Dir: dir, Name: "core", Ext: ".tar.zst"}
	if loc.DBLink() != filepath.Join(dir, "core.db") || loc.FilesLink() != filepath.Join(dir, "core.files") ||
		loc.Lockfile() != filepath.Join(dir, "core.db.tar.zst.lck") || loc.FilesPath() != filepath.Join(dir, "core.files.tar.zst") {
		t.Errorf("paths: %s %s %s %s", loc.DBLink(), loc.FilesLink(), loc.Lockfile(), loc.FilesPath())
	}
}

// TestLastUpdate: every database write leaves lastupdate (seconds since
// the epoch) for mirrors, written after the databases.
func TestLastUpdate(t *testing.T) {
	loc := Location{Dir: t.TempDir(), Name: "t", Ext: ".tar.zst"}
	before := time.Now().Unix()
	if err := Write(loc, sampleEntries(3, 1), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(loc.Dir, "lastupdate"))
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || stamp < before || stamp > time.Now().Unix() {
		t.Fatalf("lastupdate %q", data)
	}
	lu, _ := os.Stat(filepath.Join(loc.Dir, "lastupdate"))
	db, _ := os.Stat(loc.DBPath())
	if lu.ModTime().Before(db.ModTime()) {
		t.Error("lastupdate written before the database")
	}
}

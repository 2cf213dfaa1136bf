package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// journalFixture is a repository in which foo-1 is registered, an older
// foo-0.9 and an unregistered bar-1 lie in the directory, a moved-from
// source file lies beside it, and a sentinel file lies one level up.
type journalFixture struct {
	files map[string][]byte // base name -> content of the package files
	dbs   map[string][]byte // base name -> content of the databases
	links map[string]string // base name -> target of the database links
	foo1  string
	old   string
	bar   string
}

// A fixed mtime lets seeds name the size and mtime a retirement checks.
var fixtureMTime = time.Unix(1700000000, 0)

func newJournalFixture(f *testing.F) *journalFixture {
	dir := f.TempDir()
	fx := &journalFixture{files: map[string][]byte{}}
	for _, s := range []struct {
		name, ver string
		dst       *string
	}{{"foo", "1-1", &fx.foo1}, {"foo", "0.9-1", &fx.old}, {"bar", "1-1", &fx.bar}} {
		p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: s.name, Version: s.ver, NumFiles: 2, FileSize: 64})
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		*s.dst = filepath.Base(p)
		fx.files[filepath.Base(p)] = b
	}
	// The databases are written once, registering foo-1, and copied into
	// every run: writing them (with fsync) would cost most of a run.
	loc := repodb.Location{Dir: dir, Name: "test", Ext: ".tar.zst"}
	p, err := pkgfile.Read(filepath.Join(dir, fx.foo1), pkgfile.ReadOptions{})
	if err != nil {
		f.Fatal(err)
	}
	e := repodb.FromPackage(p)
	e.Filename = fx.foo1
	if err := repodb.Write(loc, []repodb.Entry{e}, repodb.WriteOptions{}); err != nil {
		f.Fatal(err)
	}
	fx.dbs, fx.links = map[string][]byte{}, map[string]string{}
	for _, path := range []string{loc.DBPath(), loc.FilesPath()} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		fx.dbs[filepath.Base(path)] = b
	}
	for _, path := range []string{loc.DBLink(), loc.FilesLink()} {
		target, err := os.Readlink(path)
		if err != nil {
			f.Fatal(err)
		}
		fx.links[filepath.Base(path)] = target
	}
	return fx
}

// build lays the fixture out under a fresh root and returns the repository
// and the path of the source directory.
func (fx *journalFixture) build(t *testing.T) (*Repo, string) {
	root := t.TempDir()
	dir := filepath.Join(root, "repo")
	src := filepath.Join(root, "src")
	for _, d := range []string{dir, src} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, fixtureMTime, fixtureMTime); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range fx.files {
		write(filepath.Join(dir, name), b)
	}
	write(filepath.Join(src, fx.bar), fx.files[fx.bar])
	write(filepath.Join(root, "sentinel"), []byte("outside the repository"))
	r := New(Options{DB: repodb.Location{Dir: dir, Name: "test", Ext: ".tar.zst"},
		BackupDir: filepath.Join(root, "backup"), LockTimeout: 20 * time.Second})
	for name, b := range fx.dbs {
		write(filepath.Join(dir, name), b)
	}
	for name, target := range fx.links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return r, src
}

// expand replaces the seeds' placeholders with this run's paths and the
// fixture's names, sizes and hashes, so that a hostile journal can aim at
// real files.
func (fx *journalFixture) expand(journal, root string) []byte {
	pairs := []string{"@HEAD@", `"version":1,"command":"update","pid":1,"started":"2026-01-02T03:04:05Z"`,
		"@REPO@", filepath.Join(root, "repo"), "@SRC@", filepath.Join(root, "src"),
		"@ROOT@", root, "@MTIME@", strconv.FormatInt(fixtureMTime.UnixNano(), 10)}
	for tok, name := range map[string]string{"FOO1": fx.foo1, "OLD": fx.old, "BAR": fx.bar} {
		b := fx.files[name]
		pairs = append(pairs, "@"+tok+"@", name, "@"+tok+"SHA@", sha256Hex(b),
			"@"+tok+"SIZE@", strconv.Itoa(len(b)))
	}
	return []byte(strings.NewReplacer(pairs...).Replace(journal))
}

// FuzzJournalRecovery feeds recovery a corrupt or hostile journal. Whatever
// it says, recovery must not delete or move a registered package file, a
// package file of another name, the databases, a source that was never
// placed, or anything outside the repository. Only foo-0.9 (another file of
// a registered name: invariant 2 allows retiring it) may go, and bar-1 only
// when the journal says the user removed bar.
func FuzzJournalRecovery(f *testing.F) {
	fx := newJournalFixture(f)
	seeds := []string{
		// Legitimate: an update that registered foo-1 and retires foo-0.9.
		`{@HEAD@,"after":[{"name":"foo","filename":"@FOO1@","sha256":"@FOO1SHA@"}],
		  "retire":[{"file":"@OLD@","size":@OLDSIZE@,"mtime_ns":@MTIME@}]}`,
		// Legitimate: an add of bar that did not commit: its placement is rolled back.
		`{@HEAD@,"after":[{"name":"bar","filename":"@BAR@","sha256":"@BARSHA@"}],
		  "places":[{"final":"@BAR@","temp":".pacrepo-tmp-0123456789ab-@BAR@","sha256":"@BARSHA@","size":@BARSIZE@}]}`,
		// Hostile: temporary names that are package files, or outside the directory.
		`{@HEAD@,"places":[{"final":"x.pkg.tar.zst","temp":"@FOO1@","sig_temp":"@BAR@"}]}`,
		`{@HEAD@,"places":[{"final":"x.pkg.tar.zst","temp":"../sentinel"}]}`,
		`{@HEAD@,"places":[{"final":"x.pkg.tar.zst","temp":"test.db.tar.zst","sig_temp":"test.db"}]}`,
		// Hostile: a committed journal retiring files nothing replaced.
		`{@HEAD@,"retire":[{"file":"@BAR@","size":@BARSIZE@,"mtime_ns":@MTIME@}]}`,
		`{@HEAD@,"retire":[{"file":"../repo/@BAR@","size":@BARSIZE@,"mtime_ns":@MTIME@}]}`,
		`{@HEAD@,"retire":[{"file":"../sentinel","size":22,"mtime_ns":@MTIME@}]}`,
		// Hostile: a roll-back removing a file it did not place.
		`{@HEAD@,"after":[{"name":"bar","filename":"@BAR@","sha256":"@BARSHA@"}],
		  "places":[{"final":"@BAR@","temp":".pacrepo-tmp-x","sha256":"@BARSHA@","size":@BARSIZE@}]}`,
		`{@HEAD@,"after":[{"name":"zzz","filename":"z","sha256":"z"}],
		  "places":[{"final":"../src/@BAR@","temp":".pacrepo-tmp-x","sha256":"@BARSHA@","size":@BARSIZE@}]}`,
		// Hostile: "moved sources" that are the registered file, or were never placed.
		`{@HEAD@,"places":[{"final":"@FOO1@","temp":".pacrepo-tmp-x","sha256":"@FOO1SHA@","size":@FOO1SIZE@}],
		  "remove_sources":[{"path":"@REPO@/@FOO1@","size":@FOO1SIZE@,"sig":true}]}`,
		`{@HEAD@,"remove_sources":[{"path":"@SRC@/@BAR@","size":@BARSIZE@}]}`,
		`{@HEAD@,"remove_sources":[{"path":"@ROOT@/sentinel","size":22}]}`,
		`{@HEAD@,"unregister":["bar"],"retire":[{"file":"@FOO1@","size":@FOO1SIZE@,"mtime_ns":@MTIME@}]}`,
		`{}`, `null`, `[]`, `{"places":[{}],"retire":[{}],"remove_sources":[{}]}`, "",
		// Invalid: a real journal's body without the fields every journal has.
		`{"version":1,"unregister":["bar"],"retire":[{"file":"@BAR@","size":@BARSIZE@,"mtime_ns":@MTIME@}]}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, src := fx.build(t)
		root := filepath.Dir(r.dir())
		data := fx.expand(text, root)
		if err := os.WriteFile(r.journalPath(), data, 0o644); err != nil {
			t.Fatal(err)
		}
		// Recovery tells a file it placed from one that was there before by
		// comparing its ctime with the journal's mtime; within one tick of
		// the file system clock the two cannot be ordered. A journal found
		// in a repository was written after the files it did not place.
		later := time.Now().Add(time.Second)
		if err := os.Chtimes(r.journalPath(), later, later); err != nil {
			t.Fatal(err)
		}
		keep := map[string][]byte{
			filepath.Join(r.dir(), fx.foo1): fx.files[fx.foo1],
			filepath.Join(src, fx.bar):      fx.files[fx.bar],
			filepath.Join(root, "sentinel"): []byte("outside the repository"),
		}
		var parsed journal
		if json.Unmarshal(data, &parsed) != nil || !slices.Contains(parsed.Unregister, "bar") {
			keep[filepath.Join(r.dir(), fx.bar)] = fx.files[fx.bar]
		}
		for _, p := range []string{r.opts.DB.DBPath(), r.opts.DB.FilesPath()} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			keep[p] = b
		}
		// An error is fine; losing a file is not. check --repair sets aside
		// a journal that cannot be read: that must lose nothing either.
		var bad *JournalUnreadableError
		if _, err := r.recoverJournal(); errors.As(err, &bad) {
			if _, err := r.setAsideJournal(); err != nil {
				t.Fatal(err)
			}
		}
		for path, want := range keep {
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("recovery from journal %s lost %s: %v", data, path, err)
			}
			if string(got) != string(want) {
				t.Fatalf("recovery from journal %s changed %s", data, path)
			}
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

package repo

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/testutil"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
)

// TestIncompleteFilesAreNeverEvidence puts truncated packages (at many
// offsets), empty files and garbage named like packages next to good ones:
// nothing is retired or unregistered because of them, each is reported
// with its kind, and the good files are still processed.
func TestIncompleteFilesAreNeverEvidence(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1"))
	good := mkpkg(t, src, "b", "2-1") // a newer b, dropped in intact
	data, err := os.ReadFile(mkpkg(t, src, "a", "9-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir(), filepath.Base(good)), must(os.ReadFile(good)), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		fn("a", "9-1"):                 data[:len(data)-1], // one byte short, named like a newer a
		"a-8-1-x86_64.pkg.tar.zst":     {},                 // zero length
		"foo-2.0-1-x86_64.pkg.tar.zst": random(4096),       // garbage
		"c-5-1-x86_64.pkg.tar.xz":      random(100),
	}
	for _, off := range []int{1, 3, 6, 20, 200, len(data) / 2, len(data) - 20} {
		bad["zz"+itoa(off)+"-1-1-x86_64.pkg.tar.zst"] = data[:off]
	}
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(r.dir(), name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := listing(t, r.dir())
	res, err := r.Update(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "b": "2-1", "c": "1-1"}) {
		t.Fatalf("registered %v", got)
	}
	after := listing(t, r.dir())
	for name := range bad {
		if after[name] != before[name] {
			t.Errorf("problem file %s was touched", name)
		}
	}
	for _, f := range []string{fn("a", "1-1"), fn("c", "1-1")} {
		if _, ok := after[f]; !ok {
			t.Errorf("%s was retired because of an unreadable file", f)
		}
	}
	if _, ok := after[fn("b", "1-1")]; ok {
		t.Errorf("obsolete b 1-1 not retired")
	}
	seen := map[string]pkgfile.ErrorKind{}
	for _, p := range res.Plan.Problems {
		seen[filepath.Base(p.Path)] = p.Kind
	}
	for name := range bad {
		if seen[name] == 0 {
			t.Errorf("%s not reported as a problem (kind %v)", name, seen[name])
		}
	}
	if seen["a-8-1-x86_64.pkg.tar.zst"] != pkgfile.Incomplete || seen[fn("a", "9-1")] != pkgfile.Incomplete {
		t.Errorf("kinds: %v", seen)
	}
	assertInvariant1(t, r)
}

// TestRegisteredFileCutShortIsDamaged: a registered file, verified when it
// was registered, that now ends early was damaged; it is not an upload in
// progress, so waiting cannot mend it (Corrupt, not Retriable). It stays
// registered and in place, and check reports it.
func TestRegisteredFileCutShortIsDamaged(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	path := filepath.Join(r.dir(), fn("a", "1-1"))
	data := must(os.ReadFile(path))
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.Update(ctx, nil, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Problems) != 1 {
		t.Fatalf("problems %v, want one for %s", res.Plan.Problems, path)
	}
	p := res.Plan.Problems[0]
	if p.Path != path || p.Kind != pkgfile.Corrupt || p.Retriable() || !strings.Contains(p.Err.Error(), "damaged since it was registered") {
		t.Errorf("problem %s: %v: %v (retriable %v), want a damaged file, not retriable", p.Path, p.Kind, p.Err, p.Retriable())
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "b": "1-1"}) {
		t.Errorf("registered %v", got)
	}
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range rep.Findings {
		found = found || (f.Kind == FindUnreadable && f.Path == path && strings.Contains(f.Detail, "corrupt: damaged"))
	}
	if !found {
		t.Errorf("check found %+v, want %s damaged", rep.Findings, path)
	}
}

// TestGrowingFile appends a package to the directory slowly while update
// runs again and again: the file is never registered while incomplete,
// nothing else changes, and once complete it is registered.
func TestGrowingFile(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	data := must(os.ReadFile(mkpkg(t, src, "b", "2-1")))
	target := filepath.Join(r.dir(), fn("b", "2-1"))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.Create(target)
		if err != nil {
			t.Error(err)
			return
		}
		for i := 0; i < len(data); i += 97 {
			f.Write(data[i:min(i+97, len(data))])
			time.Sleep(time.Millisecond)
		}
		f.Close()
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	runs := 0
	for waiting := true; waiting; runs++ {
		select {
		case <-done:
			waiting = false
		default:
		}
		if _, err := r.Update(ctx, nil, Request{}); err != nil {
			t.Fatal(err)
		}
		got := registered(t, r)
		if got["a"] != "1-1" || (got["b"] != "1-1" && got["b"] != "2-1") {
			t.Fatalf("run %d: registered %v", runs, got)
		}
		if got["b"] == "2-1" && !bytes.Equal(must(os.ReadFile(target)), data) {
			t.Fatalf("run %d: b 2-1 registered while incomplete", runs)
		}
		if _, err := os.Stat(filepath.Join(r.dir(), fn("b", "1-1"))); err != nil && got["b"] != "2-1" {
			t.Fatalf("run %d: b 1-1 retired while b 2-1 is incomplete", runs)
		}
		assertInvariant1(t, r)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); got["b"] != "2-1" {
		t.Fatalf("complete file not registered: %v (after %d runs)", got, runs)
	}
	assertClean(t, r)
}

// TestUnreadableDatabaseStopsEverything: empty, truncated and garbage
// databases stop update, add, remove and status without changing a byte;
// reset rebuilds.
func TestUnreadableDatabaseStopsEverything(t *testing.T) {
	for _, kind := range []string{"empty", "truncated", "garbage", "files-db-garbage", "db-gone-old-kept"} {
		t.Run(kind, func(t *testing.T) {
			r := newRepo(t)
			src := t.TempDir()
			mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
			mustAdd(t, r, mkpkg(t, src, "c", "1-1")) // so that .old exists
			mkpkg(t, r.dir(), "a", "2-1")
			dbPath := r.opts.DB.DBPath()
			db := must(os.ReadFile(dbPath))
			switch kind {
			case "empty":
				os.WriteFile(dbPath, nil, 0o644)
			case "truncated":
				os.WriteFile(dbPath, db[:len(db)/2], 0o644)
			case "garbage":
				os.WriteFile(dbPath, random(len(db)), 0o644)
			case "files-db-garbage":
				os.WriteFile(r.opts.DB.FilesPath(), random(300), 0o644)
			case "db-gone-old-kept":
				os.Remove(dbPath)
			}
			before := listing(t, r.dir())
			var dbErr *DBUnreadableError
			for name, op := range map[string]func() error{
				"update": func() error { _, err := r.Update(ctx, nil, Request{}); return err },
				"add": func() error {
					_, err := r.Add(ctx, []string{mkpkg(t, src, "d", "1-1")}, AddOptions{Mode: Copy})
					return err
				},
				"remove": func() error { _, err := r.Remove(ctx, []string{"a"}, Request{}); return err },
				"status": func() error { _, err := r.Status(ctx, nil, Request{}); return err },
			} {
				if err := op(); !errors.As(err, &dbErr) {
					t.Errorf("%s: got %v, want a DBUnreadableError", name, err)
				}
			}
			if after := listing(t, r.dir()); !reflect.DeepEqual(before, after) {
				t.Errorf("the directory changed")
			}
			rep, err := r.Check(ctx, false)
			if err != nil || len(rep.Findings) == 0 || rep.Findings[len(rep.Findings)-1].Kind != FindDBUnreadable {
				t.Errorf("check: %v %+v", err, rep)
			}
			res, err := r.Reset(ctx, Request{})
			if err != nil {
				t.Fatal(err)
			}
			if res.IgnoredDB == nil {
				t.Errorf("reset did not say it ignored the database")
			}
			if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "2-1", "b": "1-1", "c": "1-1"}) {
				t.Fatalf("after reset: %v", got)
			}
			if _, err := os.Stat(filepath.Join(r.dir(), fn("a", "1-1"))); err != nil {
				t.Errorf("reset retired a file: %v", err)
			}
			assertInvariant1(t, r)
		})
	}
}

// TestBackups: retired files go to the backup directory with their .sig,
// an existing backup is never overwritten, KeepBackups keeps the newest.
func TestBackups(t *testing.T) {
	r := newRepo(t)
	backup := filepath.Join(t.TempDir(), "bk")
	r = withOpts(r, func(o *Options) { o.BackupDir = backup })
	src := t.TempDir()
	a1 := mkpkg(t, src, "a", "1-1")
	sig1 := testutil.NewPGPKey(t, "packager").Sign(t, a1)
	os.WriteFile(a1+".sig", sig1, 0o644)
	mustAdd(t, r, a1)
	os.MkdirAll(backup, 0o755)
	os.WriteFile(filepath.Join(backup, fn("a", "1-1")), []byte("an older backup"), 0o644)
	mustAdd(t, r, mkpkg(t, src, "a", "2-1"))
	if got := must(os.ReadFile(filepath.Join(backup, fn("a", "1-1")))); string(got) != "an older backup" {
		t.Fatal("existing backup overwritten")
	}
	if fileSHA(t, filepath.Join(backup, fn("a", "1-1")+".1")) != fileSHA(t, a1) {
		t.Fatal("retired file not at .1")
	}
	if !bytes.Equal(must(os.ReadFile(filepath.Join(backup, fn("a", "1-1")+".1.sig"))), sig1) {
		t.Fatal("signature not retired with its package")
	}
	if _, err := os.Stat(filepath.Join(r.dir(), fn("a", "1-1")+".sig")); !os.IsNotExist(err) {
		t.Fatal("signature left behind")
	}
	r = withOpts(r, func(o *Options) { o.KeepBackups = 2 })
	for _, v := range []string{"3-1", "4-1", "5-1"} {
		mustAdd(t, r, mkpkg(t, src, "a", v))
	}
	var kept []string
	for name := range listing(t, backup) {
		kept = append(kept, name)
	}
	want := map[string]bool{fn("a", "4-1"): true, fn("a", "3-1"): true, fn("a", "1-1"): true} // the unreadable old backup is never deleted
	if len(kept) != len(want) {
		t.Fatalf("backups kept: %v", kept)
	}
	for _, k := range kept {
		if !want[k] {
			t.Fatalf("backups kept: %v", kept)
		}
	}
	assertClean(t, r)
}

// TestKeepBackupsCountsIdenticalOnce: a package retired twice leaves two
// identical backups; with keep_backups = 2 they used to fill both places,
// and the next retirement deleted the only copy of an older version.
func TestKeepBackupsCountsIdenticalOnce(t *testing.T) {
	backup := filepath.Join(t.TempDir(), "bk")
	r := withOpts(newRepo(t), func(o *Options) { o.BackupDir, o.KeepBackups = backup, 2 })
	src := t.TempDir()
	a3 := mkpkg(t, src, "a", "3-1")
	mustAdd(t, r, a3)
	if _, err := r.Remove(ctx, []string{"a"}, Request{}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, r, a3) // a-3-1 again
	a1 := mkpkg(t, src, "a", "1-1")
	mustAdd(t, r, a1)                        // a downgrade: a-3-1 retired a second time
	mustAdd(t, r, mkpkg(t, src, "a", "2-1")) // a-1-1 retired
	backups := map[string]bool{}
	for _, sha := range listing(t, backup) {
		backups[sha] = true
	}
	if !backups[fileSHA(t, a1)] || !backups[fileSHA(t, a3)] {
		t.Fatalf("keep_backups = 2 kept %v: a-1-1 or a-3-1 is lost", listing(t, backup))
	}
	assertClean(t, r)
}

// TestIdenticalRetirementsKeepOneBackup: a package retired twice (removed,
// added again, retired by a downgrade) leaves one backup under its own
// name, which paccache sees, not NAME.1 beside it.
func TestIdenticalRetirementsKeepOneBackup(t *testing.T) {
	backup := filepath.Join(t.TempDir(), "bk")
	r := withOpts(newRepo(t), func(o *Options) { o.BackupDir = backup })
	src := t.TempDir()
	a3 := mkpkg(t, src, "a", "3-1")
	mustAdd(t, r, a3)
	if _, err := r.Remove(ctx, []string{"a"}, Request{}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, r, a3)
	mustAdd(t, r, mkpkg(t, src, "a", "1-1")) // a-3-1 retired a second time
	entries, err := os.ReadDir(backup)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != filepath.Base(a3) {
		t.Errorf("backup directory holds %v, want only %s", names, filepath.Base(a3))
	}
	if got := fileSHA(t, filepath.Join(backup, filepath.Base(a3))); got != fileSHA(t, a3) {
		t.Error("the backup is not the package retired")
	}
	assertClean(t, r)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

var ctx = context.Background()

// newRepo makes an empty repository directory "test.db.tar.zst". Its
// writers wait long for the lock: 16 writers at once on a loaded machine
// under the race detector queued past 20 s, and a test that means a
// timeout sets a short one itself.
func newRepo(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	return New(Options{DB: repodb.Location{Dir: dir, Name: "test", Ext: ".tar.zst"}, LockTimeout: 5 * time.Minute})
}

func withOpts(r *Repo, f func(*Options)) *Repo {
	o := r.opts
	f(&o)
	return New(o)
}

// mkpkg writes a small valid package into dir and returns its path.
func mkpkg(t testing.TB, dir, name, ver string) string {
	t.Helper()
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: name, Version: ver, NumFiles: 2, FileSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// registered returns name -> version of the database.
func registered(t testing.TB, r *Repo) map[string]string {
	t.Helper()
	es, err := r.Entries(ctx)
	var none *NoDatabaseError
	if err != nil && !errors.As(err, &none) {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range es {
		m[e.Name] = e.Version
	}
	return m
}

// assertInvariant1 checks that every entry names a present file with its
// size and SHA-256, and that both databases agree.
func assertInvariant1(t testing.TB, r *Repo) {
	t.Helper()
	es, err := repodb.Read(r.opts.DB.DBPath(), repodb.ReadOptions{})
	if err != nil {
		if os.IsNotExist(err) {
			return
		}
		t.Fatalf("db unreadable: %v", err)
	}
	for _, e := range es {
		path := filepath.Join(r.dir(), e.Filename)
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("invariant 1: entry %s %s: file %s: %v", e.Name, e.Version, e.Filename, err)
			continue
		}
		if fi.Size() != e.CSize || fileSHA(t, path) != e.SHA256Sum {
			t.Errorf("invariant 1: entry %s: size/sha256 differ from %s", e.Name, e.Filename)
		}
	}
	if ok, why := r.filesDBAgrees(es); !ok {
		t.Errorf("files db disagrees: %s", why)
	}
}

// assertClean runs Check without repair and expects no finding.
func assertClean(t testing.TB, r *Repo) {
	t.Helper()
	rep, err := r.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("check: %s %s %s: %s", f.Kind, f.Name, f.Path, f.Detail)
	}
}

// listing is every non-hidden name of dir with its SHA-256.
func listing(t testing.TB, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	m := map[string]string{}
	if os.IsNotExist(err) {
		return m
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".") || d.IsDir() {
			continue
		}
		if d.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(filepath.Join(dir, d.Name()))
			m[d.Name()] = "link:" + target
			continue
		}
		m[d.Name()] = fileSHA(t, filepath.Join(dir, d.Name()))
	}
	return m
}

func pkgNames(m map[string]string) []string {
	var out []string
	for n := range m {
		if strings.Contains(n, ".pkg.tar") && !strings.HasSuffix(n, ".sig") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// private is in every file that must never be served.
const private = "PRIVATE-BYTES-never-served"

// linkedRepo is a repository directory holding private files and links of
// every kind with public names: relative, absolute, chains, to
// directories, loops, dangling, in and out of the directory.
func linkedRepo(t testing.TB) (repo fixtureRepo, allowed map[string][]byte) {
	repo = newFixtureRepo(t, "testrepo")
	dir := repo.Dir
	outside := t.TempDir()
	for _, n := range []string{".testrepo.pacrepo.lock", ".testrepo.pacrepo.journal", ".testrepo.pacrepo.cache",
		".pacrepo-tmp-0011-alpha-1.0-1-any.pkg.tar.zst", "testrepo.db.tar.zst.old", "testrepo.db.tar.zst.lck", "notes.txt"} {
		writeFile(t, filepath.Join(dir, n), private+" "+n)
	}
	must(t, os.Mkdir(filepath.Join(dir, "backup"), 0o755))
	writeFile(t, filepath.Join(dir, "backup", "alpha-0.9-1-any.pkg.tar.zst"), private+" backup")
	writeFile(t, filepath.Join(outside, "shadow"), private+" outside")
	alpha := filepath.Base(repo.pkgs[0])
	links := map[string]string{
		"lock-1-1-any.pkg.tar.zst":           ".testrepo.pacrepo.lock",
		"journal-1-1-any.pkg.tar.zst.sig":    ".testrepo.pacrepo.journal",
		"tmp-1-1-any.pkg.tar.zst":            ".pacrepo-tmp-0011-alpha-1.0-1-any.pkg.tar.zst",
		"old-1-1-any.pkg.tar.zst":            "testrepo.db.tar.zst.old",
		"testrepo.files.tar.gz":              "testrepo.db.tar.zst.old",
		"bak-1-1-any.pkg.tar.zst":            "backup/alpha-0.9-1-any.pkg.tar.zst",
		"bak2-1-1-any.pkg.tar.zst":           "./backup/../backup/alpha-0.9-1-any.pkg.tar.zst",
		"dir-1-1-any.pkg.tar.zst":            "backup",
		"self-1-1-any.pkg.tar.zst":           ".",
		"up-1-1-any.pkg.tar.zst":             "..",
		"abs-1-1-any.pkg.tar.zst":            filepath.Join(dir, ".testrepo.pacrepo.lock"),
		"absout-1-1-any.pkg.tar.zst":         filepath.Join(outside, "shadow"),
		"relout-1-1-any.pkg.tar.zst":         filepath.Join("..", filepath.Base(outside), "shadow"),
		"chain1-1-1-any.pkg.tar.zst":         "chain2-1-1-any.pkg.tar.zst",
		"chain2-1-1-any.pkg.tar.zst":         "lock-1-1-any.pkg.tar.zst",
		"loop1-1-1-any.pkg.tar.zst":          "loop2-1-1-any.pkg.tar.zst",
		"loop2-1-1-any.pkg.tar.zst":          "loop1-1-1-any.pkg.tar.zst",
		"dangling-1-1-any.pkg.tar.zst":       "nothing-here",
		"sigtopkg-1-1-any.pkg.tar.zst.sig":   alpha,
		"pkgtodb-1-1-any.pkg.tar.zst":        "testrepo.db.tar.zst",
		"good-1-1-any.pkg.tar.zst":           "good2-1-1-any.pkg.tar.zst",
		"good2-1-1-any.pkg.tar.zst":          alpha,
		"testrepo.db.tar.xz":                 "testrepo.db.tar.zst",
		"testrepo.files.tar.xz":              "testrepo.db.tar.zst", // another kind of database
		"alpha-1.0-1-any.pkg.tar.zst.sig":    "testrepo.db.tar.zst.lck",
		"beta-2.3-4-any.pkg.tar.zst.sig.sig": alpha,
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(dir, name)))
	}
	content := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		must(t, err)
		return b
	}
	allowed = map[string][]byte{
		alpha:                       content(alpha),
		"good-1-1-any.pkg.tar.zst":  content(alpha), // a chain of links to a package
		"good2-1-1-any.pkg.tar.zst": content(alpha),
		"testrepo.files":            content("testrepo.files.tar.zst"),
		"testrepo.db":               content("testrepo.db.tar.zst"),
		"testrepo.db.tar.xz":        content("testrepo.db.tar.zst"),
	}
	return repo, allowed
}

// TestLinksServeOnlyPublicTargets: a link with a public name is served
// only when it leads, within the directory, to a public file of its class.
func TestLinksServeOnlyPublicTargets(t *testing.T) {
	repo, allowed := linkedRepo(t)
	for _, follow := range []bool{false, true} {
		srv := startServer(t, Options{Repos: []Repository{repo.Repository}, FollowExternalLinks: follow})
		entries, err := os.ReadDir(repo.Dir)
		must(t, err)
		for _, e := range entries {
			resp, body := get(t, srv.URL+"/testrepo/"+e.Name(), nil)
			if bytes.Contains(body, []byte(private)) {
				t.Errorf("follow %v: GET %s served private bytes", follow, e.Name())
			}
			want, ok := allowed[e.Name()]
			switch {
			case ok && (resp.StatusCode != 200 || !bytes.Equal(body, want)):
				t.Errorf("follow %v: GET %s: %d, %d bytes; want its %d bytes", follow, e.Name(), resp.StatusCode, len(body), len(want))
			case !ok && resp.StatusCode == 200 && e.Type()&os.ModeSymlink != 0:
				t.Errorf("follow %v: GET %s (a link) served", follow, e.Name())
			}
		}
	}
}

// TestFollowLinksServeOnlyTheRegisteredFile: with FollowExternalLinks, a
// registered link to outside is served only while its target is the file
// the database registers: re-pointed at another file, even one of the same
// size, or rewritten in place with its times put back, it is answered 404.
func TestFollowLinksServeOnlyTheRegisteredFile(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	outside := t.TempDir()
	ext := makeTestPackage(t, outside, testPackage{Name: "ext", Version: "1-1"})
	key := testutil.NewPGPKey(t, "ext")
	extSig := key.SignFile(t, ext)
	link := filepath.Join(repo.Dir, "ext-1-1-any.pkg.tar.zst")
	must(t, os.Symlink(ext, link))
	must(t, os.Symlink(extSig, link+".sig"))
	repoAdd(t, repo.Dir, "testrepo", link) // registers the signature too (%PGPSIG%)
	pkg, err := os.ReadFile(ext)
	must(t, err)
	sig, err := os.ReadFile(extSig)
	must(t, err)

	secret := filepath.Join(outside, "shadow")
	writeFile(t, secret, private+" shadow")
	sameSize := filepath.Join(outside, "same-size")
	writeFile(t, sameSize, strings.Repeat(private, len(pkg)/len(private)+1)[:len(pkg)])
	otherSig := key.SignFile(t, sameSize)

	srv := startServer(t, Options{Repos: []Repository{repo.Repository}, FollowExternalLinks: true})
	repoint := func(link, target string) {
		t.Helper()
		must(t, os.Remove(link))
		must(t, os.Symlink(target, link))
	}
	expect := func(what, name string, want []byte) {
		t.Helper()
		resp, body := get(t, srv.URL+"/testrepo/"+name, nil)
		if bytes.Contains(body, []byte(private)) {
			t.Errorf("%s: GET %s served private bytes", what, name)
		}
		switch {
		case want != nil && (resp.StatusCode != 200 || !bytes.Equal(body, want)):
			t.Errorf("%s: GET %s: %d, %d bytes; want 200 and its %d bytes", what, name, resp.StatusCode, len(body), len(want))
		case want == nil && resp.StatusCode != http.StatusNotFound:
			t.Errorf("%s: GET %s: %d, want 404", what, name, resp.StatusCode)
		}
	}
	pkgName, sigName := filepath.Base(link), filepath.Base(link)+".sig"

	expect("registered", pkgName, pkg)
	expect("registered", sigName, sig)

	repoint(link, secret)
	expect("package link re-pointed at another file", pkgName, nil)
	repoint(link, sameSize)
	expect("package link re-pointed at a file of the same size", pkgName, nil)
	repoint(link, ext)
	expect("package link pointed back", pkgName, pkg)

	// The registered target rewritten in place, size and times kept: only
	// its ctime tells, and the hash remembered for it no longer counts.
	fi, err := os.Stat(ext)
	must(t, err)
	same, err := os.ReadFile(sameSize)
	must(t, err)
	must(t, os.WriteFile(ext, same, 0o644))
	must(t, os.Chtimes(ext, fi.ModTime(), fi.ModTime()))
	expect("package target rewritten in place", pkgName, nil)
	must(t, os.WriteFile(ext, pkg, 0o644))
	expect("package target written back", pkgName, pkg)

	repoint(link+".sig", secret)
	expect("signature link re-pointed at another file", sigName, nil)
	repoint(link+".sig", otherSig)
	expect("signature link re-pointed at another signature", sigName, nil)
	repoint(link+".sig", extSig)
	expect("signature link pointed back", sigName, sig)
}

// TestRangeAbuse: pacman asks for one range; a request for many, tiny or
// overlapping ranges is answered with the whole file, never a multipart
// reply larger than the file.
func TestRangeAbuse(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	name := filepath.Base(repo.pkgs[0])
	whole, err := os.ReadFile(repo.pkgs[0])
	must(t, err)
	size := len(whole)
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf("%d-%d", i%size, i%size)
	}
	for _, rng := range []string{
		"bytes=" + strings.Join(many, ","),
		"bytes=0-0,2-2,4-4",
		"bytes=0-500,100-600",
		"bytes=600-700,0-100",
		"bytes=0-,0-,0-",
	} {
		resp, body := get(t, srv.URL+"/testrepo/"+name, map[string]string{"Range": rng})
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, whole) {
			t.Errorf("Range %.40s...: %d, %d bytes; want 200 and the whole file (%d bytes)", rng, resp.StatusCode, len(body), size)
		}
	}
	// One range, as pacman resumes, and a few large sorted ones still work.
	resp, body := get(t, srv.URL+"/testrepo/"+name, map[string]string{"Range": "bytes=10-"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, whole[10:]) {
		t.Errorf("single range: %d, %d bytes", resp.StatusCode, len(body))
	}
	if size > 2*minBytesPerRange+100 {
		resp, _ = get(t, srv.URL+"/testrepo/"+name, map[string]string{"Range": fmt.Sprintf("bytes=0-%d,%d-", minBytesPerRange, size-minBytesPerRange)})
		if resp.StatusCode != http.StatusPartialContent {
			t.Errorf("two large ranges: %d, want 206", resp.StatusCode)
		}
	}
}

// TestSingleRepositoryAtRoot: one repository is served at / too (as
// repoctl's host did), several only under /NAME/.
func TestSingleRepositoryAtRoot(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	for _, name := range []string{"testrepo.db", filepath.Base(repo.pkgs[0])} {
		if resp, _ := get(t, srv.URL+"/"+name, nil); resp.StatusCode != 200 {
			t.Errorf("GET /%s: %d, want 200", name, resp.StatusCode)
		}
		if resp, _ := get(t, srv.URL+"/testrepo/"+name, nil); resp.StatusCode != 200 {
			t.Errorf("GET /testrepo/%s: %d, want 200", name, resp.StatusCode)
		}
	}
	if resp, _ := get(t, srv.URL+"/notes.txt", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /notes.txt: %d", resp.StatusCode)
	}
	other := newFixtureRepo(t, "other")
	two := startServer(t, Options{Repos: []Repository{repo.Repository, other.Repository}})
	if resp, _ := get(t, two.URL+"/testrepo.db", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("two repositories: GET /testrepo.db: %d, want 404", resp.StatusCode)
	}
}

// FuzzRequests sends arbitrary paths and Range headers to a repository
// that holds private files and links to them: no private byte may ever be
// served.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{"/testrepo/lock-1-1-any.pkg.tar.zst", "/testrepo/testrepo.db", "/lock-1-1-any.pkg.tar.zst",
		"/testrepo/..%2f.testrepo.pacrepo.lock", "/testrepo/backup/alpha-0.9-1-any.pkg.tar.zst", "/testrepo/chain1-1-1-any.pkg.tar.zst"} {
		f.Add(s, "bytes=0-10,20-30")
	}
	f.Add("/testrepo/alpha-1.0-1-any.pkg.tar.zst", "bytes=0-0,1-1,2-2")
	repo, _ := linkedRepo(f)
	h, err := NewHandler(Options{Repos: []Repository{repo.Repository}, FollowExternalLinks: true, List: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, rng string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawPath = path, path
		req.Header.Set("Range", rng)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if bytes.Contains(w.Body.Bytes(), []byte(private)) {
			t.Fatalf("GET %q Range %q served private bytes", path, rng)
		}
	})
}

package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t testing.TB, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, hdr)
}

func do(t testing.TB, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// rawStatus sends a request line byte for byte, so that no client library
// cleans or re-encodes the path, and returns the status code.
func rawStatus(t testing.TB, addr, target string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServesPublicFilesOnly(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	dir := repo.Dir
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "secret")
	ext := makeTestPackage(t, outside, testPackage{Name: "ext", Version: "1-1"})
	must(t, os.Symlink(ext, filepath.Join(dir, "ext-1-1-any.pkg.tar.zst")))
	repoAdd(t, dir, "testrepo", filepath.Join(dir, "ext-1-1-any.pkg.tar.zst"))
	hidden := []string{
		".hidden", ".pacrepo.lock", "testrepo.db.tar.zst.old", "testrepo.db.tar.zst.lck",
		"gamma-1-1-any.pkg.tar.zst.part", "gamma-1-1-any.pkg.tar.zst.tmp", "gamma-1-1-any.pkg.tar.zst~",
		".gamma-1-1-any.pkg.tar.zst", "other.db.tar.zst", "notes.txt",
	}
	for _, n := range hidden {
		writeFile(t, filepath.Join(dir, n), "hidden")
	}
	if err := os.MkdirAll(filepath.Join(dir, "backup"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "backup", "alpha-0.9-1-any.pkg.tar.zst"), "old")
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "leak-1-1-any.pkg.tar.zst")))
	must(t, os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "leak2-1-1-any.pkg.tar.zst")))
	// A link to outside with a package's name, not registered.
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "unreg-1-1-any.pkg.tar.zst")))
	// A database link that leads outside must never be followed.
	must(t, os.Remove(filepath.Join(dir, "testrepo.files")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "testrepo.files")))
	must(t, os.Remove(filepath.Join(dir, "testrepo.files.tar.zst")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "testrepo.files.tar.zst")))

	// A FIFO with a package name must not hang the request.
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo-1-1-any.pkg.tar.zst"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "dir-1-1-any.pkg.tar.zst"), 0o755))
	hidden = append(hidden, "fifo-1-1-any.pkg.tar.zst", "dir-1-1-any.pkg.tar.zst")

	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	addr := srv.Listener.Addr().String()

	for _, n := range hidden {
		if resp, _ := get(t, srv.URL+"/testrepo/"+n, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", n, resp.StatusCode)
		}
	}
	for _, target := range []string{
		"/testrepo/backup/alpha-0.9-1-any.pkg.tar.zst",
		"/testrepo/backup",
		"/testrepo/leak-1-1-any.pkg.tar.zst",
		"/testrepo/leak2-1-1-any.pkg.tar.zst",
		"/testrepo/ext-1-1-any.pkg.tar.zst",
		"/testrepo/testrepo.files",
		"/testrepo/testrepo.files.tar.zst",
		"/testrepo/",
		"/testrepo",
		"/",
		"/nosuchrepo/testrepo.db",
	} {
		if code := rawStatus(t, addr, target); code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, code)
		}
	}
	for _, target := range []string{
		"/testrepo/../testrepo/testrepo.db",
		"/testrepo/..%2f..%2fetc%2fpasswd",
		"/testrepo/%2e%2e/%2e%2e/etc/passwd",
		"/testrepo/..%5cfoo.pkg.tar.zst",
		"/testrepo%2ftestrepo.db",
		"/testrepo/x%00.pkg.tar.zst",
		"//testrepo/testrepo.db",
		"/testrepo/./testrepo.db",
		"/../../etc/passwd",
	} {
		if code := rawStatus(t, addr, target); code != http.StatusBadRequest && code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 400 or 404", target, code)
		}
	}
	if code := rawStatus(t, addr, "/testrepo/"+filepath.Base(repo.pkgs[0])); code != http.StatusOK {
		t.Errorf("GET package: status %d, want 200", code)
	}

	// On request, registered packages may link outside (add --link);
	// databases and unregistered names never.
	srv2 := startServer(t, Options{Repos: []Repository{repo.Repository}, FollowExternalLinks: true})
	want, _ := os.ReadFile(ext)
	if resp, body := get(t, srv2.URL+"/testrepo/ext-1-1-any.pkg.tar.zst", nil); resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Errorf("external package link with FollowExternalLinks: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get(t, srv2.URL+"/testrepo/unreg-1-1-any.pkg.tar.zst", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unregistered external link with FollowExternalLinks: status %d, want 404", resp.StatusCode)
	}
	if resp, _ := get(t, srv2.URL+"/testrepo/testrepo.files", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("outside database link with FollowExternalLinks: status %d, want 404", resp.StatusCode)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseLinkServesTarget(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	want, err := os.ReadFile(filepath.Join(repo.Dir, "testrepo.db.tar.zst"))
	must(t, err)
	if fi, err := os.Lstat(filepath.Join(repo.Dir, "testrepo.db")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("repo-add did not make testrepo.db a link: %v", err)
	}
	for _, name := range []string{"testrepo.db", "testrepo.db.tar.zst"} {
		resp, body := get(t, srv.URL+"/testrepo/"+name, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("GET %s: status %d, %d bytes; want the database's %d bytes", name, resp.StatusCode, len(body), len(want))
		}
		if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("GET %s: Content-Type %q", name, got)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", name, got)
		}
	}
	resp, _ := get(t, srv.URL+"/testrepo/"+filepath.Base(repo.pkgs[0]), nil)
	if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "max-age") {
		t.Errorf("package Cache-Control %q, want a max-age", got)
	}
	// Signatures of packages and databases are served, and never cached.
	key := testutil.NewPGPKey(t, "repo")
	writeFile(t, repo.pkgs[0]+".sig", "package signature")
	dbSig := key.SignFile(t, filepath.Join(repo.Dir, "testrepo.db.tar.zst"))
	must(t, os.Symlink("testrepo.db.tar.zst.sig", filepath.Join(repo.Dir, "testrepo.db.sig")))
	for name, want := range map[string]string{
		filepath.Base(repo.pkgs[0]) + ".sig": "package signature",
		"testrepo.db.sig":                    string(must2(os.ReadFile(dbSig))),
		"testrepo.db.tar.zst.sig":            string(must2(os.ReadFile(dbSig))),
	} {
		resp, body := get(t, srv.URL+"/testrepo/"+name, nil)
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d %q Cache-Control %q", name, resp.StatusCode, body, resp.Header.Get("Cache-Control"))
		}
	}
	// A database signature that was not made over the database served now
	// (the database was replaced, its signature not yet) is never served.
	writeFile(t, filepath.Join(repo.Dir, "testrepo.db.tar.zst"), "another database")
	for _, name := range []string{"testrepo.db.sig", "testrepo.db.tar.zst.sig"} {
		if resp, body := get(t, srv.URL+"/testrepo/"+name, nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s of another database: %d %q, want 503", name, resp.StatusCode, body)
		}
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConditionalRangeHead(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	pkg := repo.pkgs[1]
	url := srv.URL + "/testrepo/" + filepath.Base(pkg)
	content, err := os.ReadFile(pkg)
	must(t, err)

	resp, body := get(t, url, nil)
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || !bytes.Equal(body, content) || etag == "" || lastMod == "" {
		t.Fatalf("GET: %d, %d bytes, ETag %q, Last-Modified %q", resp.StatusCode, len(body), etag, lastMod)
	}
	if strings.HasPrefix(etag, "W/") {
		t.Errorf("ETag %s is weak; Range needs a strong one", etag)
	}
	if got := resp.Header.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("Accept-Ranges %q", got)
	}

	// Resume: pacman asks for the rest of a partial download.
	half := len(content) / 2
	resp, body = get(t, url, map[string]string{"Range": fmt.Sprintf("bytes=%d-", half)})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[half:]) {
		t.Errorf("Range bytes=%d-: status %d, %d bytes; want 206 and %d bytes", half, resp.StatusCode, len(body), len(content)-half)
	}
	if want := fmt.Sprintf("bytes %d-%d/%d", half, len(content)-1, len(content)); resp.Header.Get("Content-Range") != want {
		t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), want)
	}
	resp, body = get(t, url, map[string]string{"Range": "bytes=3-9", "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[3:10]) {
		t.Errorf("Range bytes=3-9 with If-Range: status %d, body %q", resp.StatusCode, body)
	}
	resp, _ = get(t, url, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(content)+10)})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range past the end: status %d, want 416", resp.StatusCode)
	}

	resp, body = get(t, url, map[string]string{"If-Modified-Since": lastMod})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-Modified-Since: status %d, want 304", resp.StatusCode)
	}
	resp, _ = get(t, url, map[string]string{"If-Modified-Since": "Mon, 02 Jan 2006 15:04:05 GMT"})
	if resp.StatusCode != 200 {
		t.Errorf("If-Modified-Since in the past: status %d, want 200", resp.StatusCode)
	}
	resp, _ = get(t, url, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	resp, _ = get(t, url, map[string]string{"If-None-Match": `"other"`})
	if resp.StatusCode != 200 {
		t.Errorf("If-None-Match other: status %d, want 200", resp.StatusCode)
	}

	resp, body = do(t, http.MethodHead, url, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(content)) {
		t.Errorf("HEAD: status %d, body %d bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if resp, _ := do(t, m, url, nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, resp.StatusCode)
		}
	}
}

// TestETagChangesWhenDatabaseReplaced replaces the database the way every
// writer does (new file, rename) with the same size and mtime: the ETag
// must still change, or caches and If-Range would mix two databases.
func TestETagChangesWhenDatabaseReplaced(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}})
	db := filepath.Join(repo.Dir, "testrepo.db.tar.zst")
	content, err := os.ReadFile(db)
	must(t, err)
	fi, err := os.Stat(db)
	must(t, err)

	resp, _ := get(t, srv.URL+"/testrepo/testrepo.db", nil)
	before := resp.Header.Get("ETag")
	tmp := filepath.Join(repo.Dir, ".testrepo.db.tmp")
	writeFile(t, tmp, string(content))
	must(t, os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
	must(t, os.Rename(tmp, db))

	resp, _ = get(t, srv.URL+"/testrepo/testrepo.db", map[string]string{"If-None-Match": before})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == before {
		t.Errorf("after replacing the database: status %d, ETag %s (before %s); want 200 and a new ETag",
			resp.StatusCode, resp.Header.Get("ETag"), before)
	}
}

func TestListing(t *testing.T) {
	a := newFixtureRepo(t, "alpha-repo")
	b := newFixtureRepo(t, "beta-repo", testPackage{Name: "gamma", Version: "1-1"})
	writeFile(t, filepath.Join(a.Dir, ".hidden"), "x")
	writeFile(t, filepath.Join(a.Dir, "alpha-repo.db.tar.zst.old"), "x")
	writeFile(t, filepath.Join(a.Dir, "<script>-1-1-any.pkg.tar.zst"), "x")
	srv := startServer(t, Options{Repos: []Repository{a.Repository, b.Repository}, List: true})

	resp, body := get(t, srv.URL+"/", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="alpha-repo/"`) || !strings.Contains(string(body), `href="beta-repo/"`) {
		t.Errorf("root listing: %d\n%s", resp.StatusCode, body)
	}
	resp, body = get(t, srv.URL+"/alpha-repo/", nil)
	page := string(body)
	for _, want := range []string{"alpha-repo.db", "alpha-repo.db.tar.zst", "alpha-repo.files", filepath.Base(a.pkgs[0]), "&lt;script&gt;"} {
		if !strings.Contains(page, ">"+want) && !strings.Contains(page, want) {
			t.Errorf("listing lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{".hidden", ".old", "<script>", "gamma"} {
		if strings.Contains(page, bad) {
			t.Errorf("listing shows %q:\n%s", bad, page)
		}
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("listing: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// /NAME redirects to /NAME/ (the client follows it).
	resp, _ = get(t, srv.URL+"/beta-repo", nil)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/beta-repo/" {
		t.Errorf("GET /beta-repo: %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	// Both repositories are served side by side.
	if resp, _ := get(t, srv.URL+"/beta-repo/beta-repo.db", nil); resp.StatusCode != 200 {
		t.Errorf("second repository: status %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/beta-repo/alpha-repo.db", nil); resp.StatusCode != 404 {
		t.Errorf("another repository's database under /beta-repo/: status %d, want 404", resp.StatusCode)
	}
}

func TestNewHandlerRejects(t *testing.T) {
	dir := t.TempDir()
	for name, repos := range map[string][]Repository{
		"none":      nil,
		"duplicate": {{Name: "a", Dir: dir}, {Name: "a", Dir: dir}},
		"bad name":  {{Name: "../a", Dir: dir}},
		"no dir":    {{Name: "a", Dir: filepath.Join(dir, "missing")}},
	} {
		if _, err := NewHandler(Options{Repos: repos}); err == nil {
			t.Errorf("%s: NewHandler accepted %v", name, repos)
		}
	}
}

func TestRepositoryAt(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	for _, p := range []string{
		filepath.Join(repo.Dir, "testrepo.db.tar.zst"),
		filepath.Join(repo.Dir, "testrepo.files.tar.zst"),
		filepath.Join(repo.Dir, "testrepo.db"),
		repo.Dir,
	} {
		got, err := RepositoryAt(p)
		if err != nil || got != repo.Repository {
			t.Errorf("RepositoryAt(%s) = %v, %v; want %v", p, got, err, repo.Repository)
		}
	}
	if _, err := RepositoryAt(filepath.Join(repo.Dir, "x.pkg.tar.zst")); err == nil {
		t.Error("RepositoryAt accepted a package name")
	}
	writeFile(t, filepath.Join(repo.Dir, "second.db.tar.gz"), "")
	if _, err := RepositoryAt(repo.Dir); err == nil || !strings.Contains(err.Error(), "several") {
		t.Errorf("directory with two databases: %v", err)
	}
	if _, err := RepositoryAt(t.TempDir()); err == nil {
		t.Error("RepositoryAt accepted a directory without a database")
	}
}

func TestBasicAuth(t *testing.T) {
	repo := newFixtureRepo(t, "private")
	creds := NewCredentials()
	must(t, creds.Add("builder", "s3cr:et"))
	srv := startServer(t, Options{Repos: []Repository{repo.Repository}, Auth: creds})
	url := srv.URL + "/private/private.db"

	resp, _ := get(t, url, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("no credentials: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	for _, c := range [][2]string{{"builder", "wrong"}, {"other", "s3cr:et"}, {"builder", ""}, {"builder", "s3cr:et "}} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth(c[0], c[1])
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("credentials %q: status %d, want 401", c, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("builder", "s3cr:et")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("right credentials: status %d", resp.StatusCode)
	}

	// Real pacman with the credentials in the Server URL.
	host := strings.TrimPrefix(srv.URL, "http://")
	pm := newPacman(t, map[string]string{"private": "http://builder:s3cr%3Aet@" + host + "/private"})
	if out, err := pm.run("-Sy"); err != nil {
		t.Fatalf("pacman -Sy with credentials: %v\n%s", err, out)
	}
	if out, err := pm.run("-Sw", "alpha"); err != nil {
		t.Fatalf("pacman -Sw with credentials: %v\n%s", err, out)
	}
	bad := newPacman(t, map[string]string{"private": "http://builder:nope@" + host + "/private"})
	if out, err := bad.run("-Sy"); err == nil {
		t.Fatalf("pacman -Sy with a wrong password succeeded:\n%s", out)
	}
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth")
	must(t, os.WriteFile(path, []byte("# builders\nalice:pa:ss\n\nbob:x\n"), 0o600))
	c := NewCredentials()
	must(t, LoadCredentialsFile(path, c))
	if c.Len() != 2 || !c.Check("alice", "pa:ss") || !c.Check("bob", "x") || c.Check("alice", "x") || c.Check("carol", "") {
		t.Errorf("credentials file read wrongly")
	}
	must(t, os.Chmod(path, 0o644))
	if err := LoadCredentialsFile(path, NewCredentials()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable credentials file: %v", err)
	}
	must(t, os.WriteFile(path, []byte("nocolon-secretpassword\n"), 0o600))
	must(t, os.Chmod(path, 0o600))
	err := LoadCredentialsFile(path, NewCredentials())
	if err == nil || strings.Contains(err.Error(), "secretpassword") {
		t.Errorf("malformed line: %v (must fail without echoing the line)", err)
	}
}

func TestAccessLog(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	var logBuf syncBuffer
	srv := startServer(t, Options{
		Repos:     []Repository{repo.Repository},
		AccessLog: slog.New(slog.NewTextHandler(&logBuf, nil)),
	})
	pkg := filepath.Base(repo.pkgs[0])
	_, body := get(t, srv.URL+"/testrepo/"+pkg, nil)
	get(t, srv.URL+"/testrepo/.hidden", nil)
	log := logBuf.String()
	for _, want := range []string{
		"method=GET", "path=/testrepo/" + pkg, "status=200", fmt.Sprintf("bytes=%d", len(body)), "remote=127.0.0.1:", "duration=",
		"path=/testrepo/.hidden status=404",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %q:\n%s", want, log)
		}
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool trusting the certificate.
func selfSigned(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pacrepo test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serveInBackground runs Server.Serve on a loopback port until the test
// ends, and checks that it shuts down cleanly.
func serveInBackground(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestTLS(t *testing.T) {
	repo := newFixtureRepo(t, "testrepo")
	certFile, keyFile, pool := selfSigned(t)
	h, err := NewHandler(Options{Repos: []Repository{repo.Repository}})
	must(t, err)
	s, err := NewServer(h, ServerOptions{TLSCertFile: certFile, TLSKeyFile: keyFile})
	must(t, err)
	addr := serveInBackground(t, s)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr + "/testrepo/testrepo.db")
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, _ := os.ReadFile(filepath.Join(repo.Dir, "testrepo.db.tar.zst"))
	if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.TLS == nil {
		t.Errorf("HTTPS GET: status %d, %d bytes, TLS %v", resp.StatusCode, len(body), resp.TLS != nil)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTPS GET used %s, want HTTP/2", resp.Proto)
	}
	// A big package over HTTP/2 (write deadlines go through the HTTP/2
	// stream), whole and resumed.
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB
	must(t, os.WriteFile(filepath.Join(repo.Dir, "big-1-1-any.pkg.tar.zst"), big, 0o644))
	for _, rng := range []int{0, 3 << 20} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/testrepo/big-1-1-any.pkg.tar.zst", nil)
		if rng > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", rng))
		}
		resp, err := client.Do(req)
		must(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(body, big[rng:]) {
			t.Errorf("HTTPS download from %d: status %d, %d bytes, %v", rng, resp.StatusCode, len(body), err)
		}
	}
	// A client that does not trust the certificate is refused.
	if _, err := http.Get("https://" + addr + "/testrepo/testrepo.db"); err == nil {
		t.Error("an untrusting client connected")
	}
	// Plain HTTP to the TLS port gets no repository data.
	if resp, err := http.Get("http://" + addr + "/testrepo/testrepo.db"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served data on the TLS port")
		}
	}

	if _, err := NewServer(h, ServerOptions{TLSCertFile: certFile}); err == nil {
		t.Error("NewServer accepted a certificate without a key")
	}
	if _, err := NewServer(h, ServerOptions{TLSCertFile: keyFile, TLSKeyFile: certFile}); err == nil {
		t.Error("NewServer accepted swapped certificate and key")
	}
}

// TestGracefulShutdown cancels the context while a download is running:
// the download must complete and Serve must return nil.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	must(t, os.WriteFile(filepath.Join(dir, "big-1-1-any.pkg.tar.zst"), big, 0o644))
	h, err := NewHandler(Options{Repos: []Repository{{Name: "r", Dir: dir}}})
	must(t, err)
	s, err := NewServer(h, ServerOptions{ShutdownTimeout: time.Minute})
	must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/r/big-1-1-any.pkg.tar.zst")
	must(t, err)
	defer resp.Body.Close()
	first := make([]byte, 1024)
	_, err = io.ReadFull(resp.Body, first)
	must(t, err)
	cancel() // SIGINT arrives mid-download
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(first)+len(rest) != len(big) {
		t.Errorf("download during shutdown: %d bytes, %v", len(first)+len(rest), err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// TestStalledClientIsCut: a client that stops reading is disconnected after
// the write idle timeout instead of holding the connection forever, while
// there is no whole-response write timeout.
func TestStalledClientIsCut(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a timeout")
	}
	dir := t.TempDir()
	big := bytes.Repeat([]byte{'x'}, 64<<20) // more than any socket buffer
	must(t, os.WriteFile(filepath.Join(dir, "big-1-1-any.pkg.tar"), big, 0o644))
	var logBuf syncBuffer
	srv := startServer(t, Options{
		Repos:            []Repository{{Name: "r", Dir: dir}},
		AccessLog:        slog.New(slog.NewTextHandler(&logBuf, nil)),
		WriteIdleTimeout: 300 * time.Millisecond,
	})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	must(t, err)
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /r/big-1-1-any.pkg.tar HTTP/1.1\r\nHost: x\r\n\r\n")
	// Never read. The request must end (and be logged) well before the
	// whole file could have been sent; wait generously for slow machines.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logBuf.String(), "path=/r/big-1-1-any.pkg.tar") {
		if time.Now().After(deadline) {
			t.Fatal("the stalled request never ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(logBuf.String(), fmt.Sprintf("bytes=%d", len(big))) {
		t.Errorf("the stalled client got the whole file: %s", logBuf.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, "127.1.2.3:9": true,
		":8080": false, "0.0.0.0:80": false, "[::]:80": false, "192.168.1.2:80": false, "example.org:80": false, "nonsense": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestServesRetiredFilesForTheGracePeriod: a package file retired to the
// backup directory (and its .sig) is served under its name while it was
// moved there within the grace period, so that a client holding an older
// database finds it; after that, and for anything not a package, 404.
func TestServesRetiredFilesForTheGracePeriod(t *testing.T) {
	t.Parallel()
	repo := newFixtureRepo(t, "testrepo")
	backup := filepath.Join(t.TempDir(), "backup")
	must(t, os.MkdirAll(backup, 0o755))
	writeFile(t, filepath.Join(backup, "alpha-0.9-1-any.pkg.tar.zst"), "old package")
	writeFile(t, filepath.Join(backup, "alpha-0.9-1-any.pkg.tar.zst.sig"), "old signature")
	writeFile(t, filepath.Join(backup, "notes.txt"), "not a package")
	within := repo.Repository
	within.Retired, within.Grace = backup, time.Hour
	srv := startServer(t, Options{Repos: []Repository{within}})
	for name, want := range map[string]string{"alpha-0.9-1-any.pkg.tar.zst": "old package", "alpha-0.9-1-any.pkg.tar.zst.sig": "old signature"} {
		if resp, body := get(t, srv.URL+"/testrepo/"+name, nil); resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("GET %s within the grace period: %d %q, want 200 %q", name, resp.StatusCode, body, want)
		}
	}
	if resp, _ := get(t, srv.URL+"/testrepo/notes.txt", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET notes.txt of the backup directory: %d, want 404", resp.StatusCode)
	}
	past := repo.Repository
	past.Retired, past.Grace = backup, time.Nanosecond
	srv = startServer(t, Options{Repos: []Repository{past}})
	if resp, _ := get(t, srv.URL+"/testrepo/alpha-0.9-1-any.pkg.tar.zst", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET a file retired before the grace period: %d, want 404", resp.StatusCode)
	}
}

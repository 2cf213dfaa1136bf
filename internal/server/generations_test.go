package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	repohistory "github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// signedRepo is a directory repository whose databases pacrepo signs with
// key, holding one package.
func signedRepo(t testing.TB, key *testutil.PGPKey, name string) (*repo.Repo, string) {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret.asc")
	must(t, key.WriteSecret(secret))
	signer, err := signature.NewKeySigner(secret, "", nil)
	must(t, err)
	dir := t.TempDir()
	r := repo.New(repo.Options{DB: repodb.Location{Dir: dir, Name: name, Ext: ".tar.zst"}, LockTimeout: time.Minute, DatabaseSigner: signer})
	pkg := makeTestPackage(t, t.TempDir(), testPackage{Name: "alpha", Version: "1.0-1"})
	if _, err := r.Add(context.Background(), []string{pkg}, repo.AddOptions{Mode: repo.Copy}); err != nil {
		t.Fatal(err)
	}
	return r, dir
}

// TestSignatureOfTheDatabaseServed: a client that got a database and asks
// for its signature after a commit replaced both gets the signature of
// the database it got (over the same connection, or another from the same
// address), each database name and the files database alike; a client
// that got no database gets the newest generation's pair.
func TestSignatureOfTheDatabaseServed(t *testing.T) {
	t.Parallel()
	key := testutil.NewPGPKey(t, "repo")
	keyring, err := signature.LoadKeyring([]string{key.Keyring}, nil)
	must(t, err)
	r, dir := signedRepo(t, key, "testrepo")
	h, err := NewHandler(Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	must(t, err)
	get := func(path, remote string) []byte {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		return w.Body.Bytes()
	}
	verifies := func(db, sig []byte) bool {
		_, err := keyring.Verify(bytes.NewReader(db), sig, "database")
		return err == nil
	}
	src := t.TempDir()
	commit := func(i int) {
		t.Helper()
		pkg := makeTestPackage(t, src, testPackage{Name: "beta", Version: fmt.Sprintf("%d.0-1", i+1)})
		if _, err := r.Add(context.Background(), []string{pkg}, repo.AddOptions{Mode: repo.Copy}); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"testrepo.db", "testrepo.db.tar.zst", "testrepo.files", "testrepo.files.tar.zst"} {
		client := fmt.Sprintf("192.0.2.%d:4000", i)
		sigFrom := client
		if i%2 == 1 {
			sigFrom = fmt.Sprintf("192.0.2.%d:4001", i) // another connection
		}
		db := get("/testrepo/"+name, client)
		commit(i)
		if sig := get("/testrepo/"+name+".sig", sigFrom); !verifies(db, sig) {
			t.Errorf("%s: a commit between the database and its signature (signature from %s): they do not verify", name, sigFrom)
		}
		stranger := fmt.Sprintf("198.51.100.%d:5000", i)
		other := get("/testrepo/"+name+".sig", stranger)
		if newest := get("/testrepo/"+name, stranger); !verifies(newest, other) || bytes.Equal(newest, db) {
			t.Errorf("%s: another client does not get the newest generation's pair", name)
		}
	}
}

// TestGenerationHeaders: a database served by generation answers HEAD,
// Range and conditional requests; its Last-Modified is the generation's
// time, so If-Modified-Since with a generation's time gets 304 while it
// is the newest and the whole database once another is, even one of the
// same second or one whose database is back at an earlier content. A database another tool wrote after the newest generation
// is served from the file.
func TestGenerationHeaders(t *testing.T) {
	t.Parallel()
	key := testutil.NewPGPKey(t, "repo")
	r, dir := signedRepo(t, key, "testrepo")
	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	url := srv.URL + "/testrepo/testrepo.db"
	hist := r.History()
	newest := func() *repohistory.Record {
		t.Helper()
		rec, err := repohistory.Newest(context.Background(), hist)
		must(t, err)
		return rec
	}
	src := t.TempDir()
	add := func(version string) {
		t.Helper()
		pkg := makeTestPackage(t, src, testPackage{Name: "beta", Version: version})
		if _, err := r.Add(context.Background(), []string{pkg}, repo.AddOptions{Mode: repo.Copy}); err != nil {
			t.Fatal(err)
		}
	}
	// A generation in a second of its own.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	add("1.0-1")
	rec := newest()
	db, _ := rec.DB()
	content, err := os.ReadFile(hist.Path(db))
	must(t, err)
	resp, body := get(t, url, nil)
	lastMod := resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || !bytes.Equal(body, content) || lastMod != rec.Time.UTC().Format(http.TimeFormat) ||
		resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != cacheDatabase {
		t.Fatalf("GET: %d, %d bytes, headers %v; want the generation's database and time %s", resp.StatusCode, len(body), resp.Header, rec.Time)
	}
	if resp, body := get(t, url, map[string]string{"If-Modified-Since": lastMod}); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-Modified-Since of the newest generation: %d", resp.StatusCode)
	}
	if resp, body := get(t, url, map[string]string{"Range": "bytes=0-9"}); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[:10]) {
		t.Errorf("Range: %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	head, err := http.DefaultClient.Do(req)
	must(t, err)
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len(content)) {
		t.Errorf("HEAD: %d, length %d", head.StatusCode, head.ContentLength)
	}

	// The next generation, most likely in the same second: the client
	// holding the one before gets it all the same.
	add("2.0-1")
	second := newest()
	if resp, body := get(t, url, map[string]string{"If-Modified-Since": lastMod}); resp.StatusCode != 200 || len(body) == 0 {
		t.Errorf("If-Modified-Since of the generation before (same second: %v): %d", rec.Time.Truncate(time.Second).Equal(second.Time.Truncate(time.Second)), resp.StatusCode)
	}
	// Removing beta brings the database back to the content of the
	// first generation (alpha alone), whose file it shares: its time is
	// the removal's.
	first, err := hist.Record(context.Background(), rec.Generation-1)
	must(t, err)
	if _, err := r.Remove(context.Background(), []string{"beta"}, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	back := newest()
	if b, _ := back.DB(); b.Path != func() string { d, _ := first.DB(); return d.Path }() {
		t.Logf("the database after removing beta is not the first generation's file")
	}
	resp, _ = get(t, url, nil)
	if got, _ := http.ParseTime(resp.Header.Get("Last-Modified")); got.Before(second.Time.Truncate(time.Second)) {
		t.Errorf("after a rollback Last-Modified went back to %s (generation %d at %s)", got, back.Generation, back.Time)
	}

	// Another tool writes the database: the file is served.
	foreign := append(append([]byte(nil), content...), 0)
	path := filepath.Join(dir, "testrepo.db.tar.zst")
	must(t, os.Remove(path))
	must(t, os.WriteFile(path, foreign, 0o644))
	must(t, os.Chtimes(path, back.Time.Add(2*foreignSlack), back.Time.Add(2*foreignSlack)))
	if _, body := get(t, url, nil); !bytes.Equal(body, foreign) {
		t.Errorf("a database written by another tool after the newest generation is not served")
	}
}

// TestGenerationFilesStayInside: a record naming a database outside the
// repository directory, or a generation's database replaced by a link,
// is not served.
func TestGenerationFilesStayInside(t *testing.T) {
	t.Parallel()
	r, dir := signedRepo(t, testutil.NewPGPKey(t, "repo"), "testrepo")
	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	secret := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(secret, []byte("secret"), 0o600))
	hist := r.History()
	rec, err := repohistory.Newest(context.Background(), hist)
	must(t, err)
	for i := range rec.Databases {
		if rec.Databases[i].Files() {
			rel, err := filepath.Rel(hist.Root, secret)
			must(t, err)
			rec.Databases[i].Path = filepath.ToSlash(rel)
		} else {
			path := hist.Path(rec.Databases[i])
			must(t, os.Remove(path))
			must(t, os.Symlink(secret, path))
		}
	}
	must(t, os.WriteFile(hist.RecordPath(rec.Generation), repohistory.Encode(rec), 0o644))
	for _, name := range []string{"testrepo.db", "testrepo.files"} {
		if resp, body := get(t, srv.URL+"/testrepo/"+name, nil); resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("secret")) {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
	}
}

// TestDamagedHistoryServesFiles: a newest record that cannot be read
// leaves the repository served from its files, as without repohistory.
func TestDamagedHistoryServesFiles(t *testing.T) {
	t.Parallel()
	r, dir := signedRepo(t, testutil.NewPGPKey(t, "repo"), "testrepo")
	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	latest, err := r.History().Latest(context.Background())
	must(t, err)
	must(t, os.WriteFile(r.History().RecordPath(latest), []byte("{damaged"), 0o644))
	want, err := os.ReadFile(filepath.Join(dir, "testrepo.db.tar.zst"))
	must(t, err)
	if resp, body := get(t, srv.URL+"/testrepo/testrepo.db", nil); resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("database with a damaged history: %d, %d bytes", resp.StatusCode, len(body))
	}
}

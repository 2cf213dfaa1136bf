package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

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

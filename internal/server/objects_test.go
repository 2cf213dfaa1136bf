package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/objstore"
)

// memObjects is a repository in object storage held in memory: the
// handler's side of serving one (the real server is in the s3repo and cli
// tests).
type memObjects struct {
	objects map[string][]byte // public name -> content
	opens   int
}

func (m *memObjects) Resolve(_ context.Context, name string) (objstore.Object, error) {
	data, ok := m.objects[name]
	if !ok {
		return objstore.Object{}, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
	}
	return objstore.Object{Key: name, Size: int64(len(data)), ETag: `"e-` + name + `"`, Modified: time.Unix(1700000000, 0)}, nil
}

// ResolveGeneration: the store holds one generation, 0.
func (m *memObjects) ResolveGeneration(ctx context.Context, name string, _ int64) (objstore.Object, int64, error) {
	obj, err := m.Resolve(ctx, name)
	return obj, 0, err
}

func (m *memObjects) OpenAt(_ context.Context, obj objstore.Object, off int64) (io.ReadCloser, error) {
	m.opens++
	return io.NopCloser(bytes.NewReader(m.objects[obj.Key][off:])), nil
}

func TestServeObjects(t *testing.T) {
	pkg := bytes.Repeat([]byte("0123456789"), 1000)
	objs := &memObjects{objects: map[string][]byte{
		"farm.db": []byte("database"), "a-1-1-any.pkg.tar.zst": pkg, "a-1-1-any.pkg.tar.zst.sig": []byte("sig"),
		".pacrepo-secret": []byte("never"), "farm.db.tar.zst.old": []byte("never"),
	}}
	h, err := NewHandler(Options{Repos: []Repository{{Name: "farm", Objects: objs}}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := get("/farm/a-1-1-any.pkg.tar.zst", nil); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), pkg) || w.Header().Get("ETag") == "" {
		t.Fatalf("package: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := get("/farm/a-1-1-any.pkg.tar.zst", map[string]string{"Range": "bytes=9990-"}); w.Code != 206 || w.Body.String() != "0123456789" {
		t.Fatalf("range: %d %q", w.Code, w.Body.String())
	}
	if w := get("/farm/a-1-1-any.pkg.tar.zst", map[string]string{"If-None-Match": `"e-a-1-1-any.pkg.tar.zst"`}); w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", w.Code)
	}
	if w := get("/farm/farm.db", nil); w.Code != 200 || w.Body.String() != "database" || w.Header().Get("Cache-Control") != cacheDatabase {
		t.Fatalf("database: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Cache-Control"))
	}
	// Only public names are asked for, whatever the store holds.
	opens := objs.opens
	for _, path := range []string{"/farm/.pacrepo-secret", "/farm/farm.db.tar.zst.old", "/farm/missing-1-1-any.pkg.tar.zst", "/farm/"} {
		if w := get(path, nil); w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
	}
	if objs.opens != opens {
		t.Error("a name that is not public was read")
	}
}

// pairedObjects is a bucket whose databases change with each
// generation: generation g's database is "db-g", its signature "sig-g".
type pairedObjects struct {
	memObjects
	newest int64
}

func (g *pairedObjects) ResolveGeneration(_ context.Context, name string, gen int64) (objstore.Object, int64, error) {
	if gen < 0 || gen > g.newest {
		gen = g.newest
	}
	content := fmt.Sprintf("db-%d", gen)
	if strings.HasSuffix(name, ".sig") {
		content = fmt.Sprintf("sig-%d", gen)
	}
	g.objects[content] = []byte(content)
	return objstore.Object{Key: content, Size: int64(len(content)), ETag: `"` + content + `"`, Modified: time.Unix(1700000000+gen, 0)}, gen, nil
}

// TestServeObjectsPairsSignature: a bucket's database signature is the
// one of the generation the client got, when a commit lands between the
// database and the signature requests.
func TestServeObjectsPairsSignature(t *testing.T) {
	t.Parallel()
	objs := &pairedObjects{memObjects: memObjects{objects: map[string][]byte{}}, newest: 1}
	h, err := NewHandler(Options{Repos: []Repository{{Name: "farm", Objects: objs}}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, remote string) string {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Body.String()
	}
	if db := get("/farm/farm.db", "192.0.2.1:1"); db != "db-1" {
		t.Fatalf("database: %q", db)
	}
	objs.newest = 2 // a commit
	if sig := get("/farm/farm.db.sig", "192.0.2.1:1"); sig != "sig-1" {
		t.Errorf("signature after a commit: %q, want the one of the database the client got (sig-1)", sig)
	}
	if sig := get("/farm/farm.db.sig", "198.51.100.1:1"); sig != "sig-2" {
		t.Errorf("signature for a client that got no database: %q, want the newest (sig-2)", sig)
	}
}

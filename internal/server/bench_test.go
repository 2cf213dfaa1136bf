package server

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// benchServer serves one repository holding a database link and a file of
// size bytes named by kind.
func benchGet(b *testing.B, name string, size int) {
	dir := b.TempDir()
	content := bytes.Repeat([]byte("pacrepo!"), size/8)
	target := name
	if name == "bench.db" {
		target = "bench.db.tar.zst"
		must(b, os.Symlink(target, filepath.Join(dir, name)))
	}
	must(b, os.WriteFile(filepath.Join(dir, target), content, 0o644))
	srv := startServer(b, Options{Repos: []Repository{{Name: "bench", Dir: dir}}})
	client := srv.Client()
	url := srv.URL + "/bench/" + name
	b.SetBytes(int64(len(content)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(content)) || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d, %d bytes, %v", name, resp.StatusCode, n, err)
		}
	}
}

// BenchmarkServeDB: many small requests, through the NAME.db link.
func BenchmarkServeDB(b *testing.B) { benchGet(b, "bench.db", 64<<10) }

// BenchmarkServePackage: a big download, which should take the sendfile
// path despite the per-chunk write deadlines.
func BenchmarkServePackage(b *testing.B) { benchGet(b, "big-1-1-any.pkg.tar.zst", 64<<20) }

// BenchmarkServeNotModified: pacman -Sy with an unchanged database.
func BenchmarkServeNotModified(b *testing.B) {
	dir := b.TempDir()
	must(b, os.WriteFile(filepath.Join(dir, "bench.db.tar.zst"), []byte("db"), 0o644))
	srv := startServer(b, Options{Repos: []Repository{{Name: "bench", Dir: dir}}})
	client := srv.Client()
	resp, err := client.Get(srv.URL + "/bench/bench.db.tar.zst")
	must(b, err)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/bench/bench.db.tar.zst", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != http.StatusNotModified {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
}

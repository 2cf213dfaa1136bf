package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// benchPages serves a repository of 10,000 packages (20 files each, a
// dependency on the one before) with its pages, the catalog already
// read, as after the first request of a generation.
func benchPages(b *testing.B) string {
	dir := b.TempDir()
	entries := pagesFixture()
	for i := range 10000 {
		e := pagesEntry(fmt.Sprintf("pkg%05d", i), "1.0-1", int64(1700000000+i))
		e.Desc = fmt.Sprintf("package number %d of the benchmark, with a description of usual length", i)
		if i > 0 {
			e.Depends = []string{fmt.Sprintf("pkg%05d>=1.0", i-1), "glibc"}
		}
		e.Provides = []string{fmt.Sprintf("libpkg%05d.so=1-64", i)}
		e.Files = []string{"usr/", "usr/lib/"}
		for f := range 18 {
			e.Files = append(e.Files, fmt.Sprintf("usr/lib/pkg%05d/file%02d", i, f))
		}
		entries = append(entries, e)
	}
	writePagesRepo(b, dir, entries)
	srv := startServer(b, Options{Repos: []Repository{{Name: "shop", Dir: dir}}, Pages: true})
	benchFetch(b, srv.URL+"/shop/packages/") // reads the generation
	return srv.URL
}

func benchFetch(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// BenchmarkPackagePage10000: one package page (its dependencies, the
// package that requires it, its files) of a repository of 10,000.
func BenchmarkPackagePage10000(b *testing.B) {
	base := benchPages(b)
	// Above 5,000 packages the file lists are kept packed.
	if page := benchFetch(b, base+"/shop/packages/pkg05000"); !bytes.Contains(page, []byte("usr/lib/pkg05000/file17")) ||
		!bytes.Contains(page, []byte(`href="./pkg05001"`)) {
		b.Fatalf("the package page lacks its files or what requires it:\n%s", page)
	}
	for b.Loop() {
		benchFetch(b, base+"/shop/packages/pkg05000")
	}
}

// BenchmarkPackageSearch10000: a search through the names, descriptions
// and provides of 10,000 packages, a full first page of results.
func BenchmarkPackageSearch10000(b *testing.B) {
	base := benchPages(b)
	for b.Loop() {
		benchFetch(b, base+"/shop/packages/?q=package+number&sort=-date")
	}
}

// BenchmarkPackageSearchJSON10000: the same search through the JSON API.
func BenchmarkPackageSearchJSON10000(b *testing.B) {
	base := benchPages(b)
	for b.Loop() {
		benchFetch(b, base+"/api/v1/shop/packages?q=libpkg0")
	}
}

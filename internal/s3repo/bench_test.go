package s3repo

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// countingProxy passes requests to a server and counts them and the bytes
// both ways.
type countingProxy struct {
	requests, sent, received atomic.Int64
	proxy                    *httputil.ReverseProxy
}

func (c *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.requests.Add(1)
	if r.ContentLength > 0 {
		c.sent.Add(r.ContentLength)
	}
	c.proxy.ServeHTTP(&countingWriter{ResponseWriter: w, n: &c.received}, r)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

// BenchmarkAddOneTo10000 adds one package to a repository of 10,000 in a
// real server, and reports the requests and bytes each add costs.
func BenchmarkAddOneTo10000(b *testing.B) {
	srv := testutil.StartS3(b, "farm")
	srv.SetEnv(b)
	target, _ := url.Parse(srv.Endpoint)
	counter := &countingProxy{proxy: httputil.NewSingleHostReverseProxy(target)}
	// The proxy keeps the Host the client signed.
	front := httptest.NewServer(counter)
	b.Cleanup(front.Close)
	bucket, err := objstore.Open(ctx, objstore.Config{Bucket: "farm", Endpoint: front.URL})
	if err != nil {
		b.Fatal(err)
	}
	addr, _ := ParseURL("s3://farm/os/x86_64/farm.db.tar.zst")
	r := New(addr, bucket, Options{})
	seed10000(b, r)
	src := b.TempDir()
	files := make([]string, b.N)
	for i := range files {
		files[i] = mkpkg(b, src, fmt.Sprintf("new%05d", i), "1.0-1")
	}
	counter.requests.Store(0)
	counter.sent.Store(0)
	counter.received.Store(0)
	b.ResetTimer()
	for i := range b.N {
		if _, err := r.Add(ctx, []string{files[i]}, AddOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(counter.requests.Load())/n, "requests/op")
	b.ReportMetric(float64(counter.sent.Load())/n/1e6, "MB-sent/op")
	b.ReportMetric(float64(counter.received.Load())/n/1e6, "MB-received/op")
}

// seed10000 commits to r a repository of 10,000 entries of a few files
// each, with their libraries (no package objects: a change does not look
// at the other packages).
func seed10000(b *testing.B, r *Repo) {
	b.Helper()
	entries := make([]repodb.Entry, 10000)
	for i := range entries {
		name := fmt.Sprintf("pkg%05d", i)
		entries[i] = repodb.Entry{Filename: name + "-1.0-1-x86_64.pkg.tar.zst", Name: name, Base: name, Version: "1.0-1",
			Desc: "Package " + name, CSize: 1000, ISize: 5000, SHA256Sum: strings.Repeat("ab", 32), Arch: "x86_64",
			URL: "https://example.org", Licenses: []string{"MIT"}, BuildDate: 1700000000, Packager: "Bench <b@example.org>",
			Depends: []string{"glibc"}, Files: []string{"usr/", "usr/bin/", "usr/bin/" + name, "usr/share/doc/" + name + "/README"}}
	}
	_, err := r.change(ctx, false, nil, func(*state) (*planned, error) {
		up := map[string]*repodb.Entry{}
		libs := map[string]*pkgfile.Libraries{} // as if read: no object is downloaded
		acts := make([]repo.Action, len(entries))
		for i := range entries {
			up[entries[i].Name] = &entries[i]
			libs[entries[i].Filename] = &pkgfile.Libraries{Needed: []pkgfile.Soname{{Name: "libc.so.6", Bits: 64}}}
			acts[i] = repo.Action{Kind: repo.ActNew, Name: entries[i].Name}
		}
		return &planned{plan: &repo.Plan{Actions: acts}, upserts: up, libs: libs}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCheckDeps10000 is check --deps of a bucket's repository of
// 10,000 packages in a real server: the db and the libraries object read,
// the packages judged.
func BenchmarkCheckDeps10000(b *testing.B) {
	srv := testutil.StartS3(b, "farm")
	srv.SetEnv(b)
	bucket, err := objstore.Open(ctx, objstore.Config{Bucket: "farm", Endpoint: srv.Endpoint})
	if err != nil {
		b.Fatal(err)
	}
	addr, _ := ParseURL("s3://farm/os/x86_64/farm.db.tar.zst")
	r := New(addr, bucket, Options{})
	seed10000(b, r)
	b.ResetTimer()
	for range b.N {
		local, err := r.DependencyPackages(ctx)
		if err != nil || len(local) != 10000 || local[0].Libs == nil {
			b.Fatalf("%d packages: %v", len(local), err)
		}
		deps.Check(local, nil)
	}
}

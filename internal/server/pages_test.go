package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// pagesEntry is a database entry of a package that pages show.
func pagesEntry(name, ver string, build int64) repodb.Entry {
	return repodb.Entry{
		Filename: name + "-" + ver + "-any.pkg.tar.zst", Name: name, Base: name, Version: ver,
		Desc: "the " + name + " package", CSize: 1234, ISize: 5678, SHA256Sum: strings.Repeat("ab", 32),
		URL: "https://example.org/" + name, Licenses: []string{"MIT"}, Arch: "any", BuildDate: build,
		Packager: "Builder <b@example.org>", Files: []string{"usr/", "usr/bin/", "usr/bin/" + name},
	}
}

// writePagesRepo writes the databases of a directory repository named
// shop (or name) holding entries, as pacrepo writes them.
func writePagesRepo(t testing.TB, dir string, entries []repodb.Entry) {
	t.Helper()
	writePagesRepoNamed(t, dir, "shop", entries)
}

func writePagesRepoNamed(t testing.TB, dir, name string, entries []repodb.Entry) {
	t.Helper()
	loc := repodb.Location{Dir: dir, Name: name, Ext: ".tar.zst"}
	if err := repodb.Write(loc, entries, repodb.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func pagesFixture() []repodb.Entry {
	app := pagesEntry("app", "1:2.0-1", 1700000300)
	app.Depends = []string{"libfoo>=1.0", "glibc"}
	app.OptDepends = []string{"extra-tool: for the extras"}
	lib := pagesEntry("lib-impl", "1.1-1", 1700000200)
	lib.Provides = []string{"libfoo=1.1"}
	lib.Base = "lib"
	libDoc := pagesEntry("lib-doc", "1.1-1", 1700000200)
	libDoc.Base = "lib"
	tool := pagesEntry("extra-tool", "3-1", 1700000100)
	tool.MakeDepends = []string{"lib-doc"}
	hostile := pagesEntry("evil", "1-1", 1700000000)
	hostile.Desc = `<script>alert("desc")</script><img src=x onerror=alert(1)> ünïcödé ` + strings.Repeat("long ", 2000)
	hostile.URL = `javascript:alert("url")`
	hostile.Packager = `"><script>alert(2)</script>`
	hostile.Licenses = []string{"<b>bold</b>"}
	hostile.Depends = []string{"app", `app"><script>alert(3)</script>`}
	hostile.Files = []string{"usr/", "usr/<script>alert(4)</script>"}
	hostile.Filename = ".evil-1-1-any.pkg.tar.zst" // a name the server never serves
	return []repodb.Entry{app, lib, libDoc, tool, hostile}
}

func pagesGet(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

func TestPackagePages(t *testing.T) {
	t.Parallel()
	dir, otherDir := t.TempDir(), t.TempDir()
	writePagesRepo(t, dir, pagesFixture())
	writePagesRepoNamed(t, otherDir, "other", pagesFixture()[:1])
	h, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Dir: dir}, {Name: "other", Dir: otherDir}}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}

	list := pagesGet(t, h, "/shop/packages/", nil)
	if list.Code != 200 || !strings.Contains(list.Body.String(), `href="./lib-impl"`) || !strings.Contains(list.Body.String(), "5 packages") {
		t.Fatalf("list: %d\n%s", list.Code, list.Body)
	}
	if w := pagesGet(t, h, "/shop/packages", nil); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/shop/packages/" {
		t.Errorf("/shop/packages: %d %q", w.Code, w.Header().Get("Location"))
	}
	// Search matches names, descriptions and provides.
	if w := pagesGet(t, h, "/shop/packages/?q=LIBFOO", nil); !strings.Contains(w.Body.String(), "1 of 5 packages match") || !strings.Contains(w.Body.String(), `href="./lib-impl"`) {
		t.Errorf("search by provides:\n%s", w.Body)
	}

	page := pagesGet(t, h, "/shop/packages/app", nil)
	body := page.Body.String()
	for _, want := range []string{
		`<a href="./lib-impl">libfoo&gt;=1.0</a>`, // a dependency linked to its provider
		"<li>glibc</li>", // and one this repository does not have
		`<a href="./extra-tool">extra-tool: for the extras</a>`,
		`<a href="./evil">evil</a>`, // required by
		`<a href="../app-1:2.0-1-any.pkg.tar.zst">`,
		"usr/bin/app", "not signed",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("package page lacks %q", want)
		}
	}
	if w := pagesGet(t, h, "/shop/packages/lib-impl", nil); !strings.Contains(w.Body.String(), `<a href="./lib-doc">lib-doc</a>`) || !strings.Contains(w.Body.String(), `<a href="./app">app</a>`) {
		t.Errorf("split sibling or required-by by provides missing:\n%s", w.Body)
	}
	if w := pagesGet(t, h, "/shop/packages/extra-tool", nil); !strings.Contains(w.Body.String(), `<a href="./app">app</a> (optional)`) {
		t.Errorf("optional required-by missing:\n%s", w.Body)
	}
	if w := pagesGet(t, h, "/shop/packages/lib-doc", nil); !strings.Contains(w.Body.String(), `<a href="./extra-tool">extra-tool</a> (make)`) {
		t.Errorf("make required-by missing:\n%s", w.Body)
	}

	// Hostile metadata is shown, escaped; no script, no javascript: link.
	evil := pagesGet(t, h, "/shop/packages/evil", nil).Body.String()
	evilJSON := pagesGet(t, h, "/api/v1/shop/packages/evil", nil).Body.String()
	for _, bad := range []string{"<script", "<img", `href="javascript:`, "<b>", "ZgotmplZ", ".evil-1-1"} {
		if strings.Contains(evil, bad) || bad == ".evil-1-1" && strings.Contains(evilJSON, bad) {
			t.Errorf("hostile metadata not escaped: %q in the page", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;desc&#34;)", "ünïcödé", "javascript:alert(&#34;url&#34;)", "&lt;b&gt;bold&lt;/b&gt;", "usr/&lt;script&gt;alert(4)&lt;/script&gt;"} {
		if !strings.Contains(evil, want) {
			t.Errorf("hostile page lacks %q", want)
		}
	}

	// Every link of every page leads to a page or to a file the
	// allow-list serves.
	for _, path := range []string{"/", "/shop/packages/", "/shop/packages/app", "/shop/packages/evil", "/shop/packages/lib-impl"} {
		w := pagesGet(t, h, path, nil)
		base := "http://x" + path
		for _, m := range hrefRE.FindAllStringSubmatch(w.Body.String(), -1) {
			href := strings.ReplaceAll(m[1], "&amp;", "&")
			if strings.HasPrefix(href, "https://example.org/") {
				continue
			}
			req := httptest.NewRequest(http.MethodGet, base, nil)
			u, err := req.URL.Parse(href)
			if err != nil {
				t.Errorf("%s: link %q: %v", path, href, err)
				continue
			}
			if got := pagesGet(t, h, u.RequestURI(), nil); got.Code != 200 && !(got.Code == 404 && strings.HasSuffix(u.Path, ".pkg.tar.zst")) {
				t.Errorf("%s: link %q answers %d", path, href, got.Code)
			} else if got.Code == 404 && publicKind("shop", filepath.Base(u.Path)) == 0 {
				t.Errorf("%s: link %q names a file that is not public", path, href)
			}
		}
	}

	// JSON: archweb's names.
	var pkg map[string]any
	if w := pagesGet(t, h, "/api/v1/shop/packages/app", nil); json.Unmarshal(w.Body.Bytes(), &pkg) != nil || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("api package: %d %s", w.Code, w.Body)
	}
	for k, want := range map[string]any{"pkgname": "app", "pkgver": "2.0", "pkgrel": "1", "epoch": 1.0, "arch": "any", "pkgdesc": "the app package", "build_date": "2023-11-14T22:18:20Z", "repo": "shop"} {
		if pkg[k] != want {
			t.Errorf("api %s = %v, want %v", k, pkg[k], want)
		}
	}
	if got := pkg["required_by"]; len(got.([]any)) != 1 {
		t.Errorf("api required_by = %v", got)
	}
	var res apiSearchResult
	if w := pagesGet(t, h, "/api/v1/shop/packages?q=lib", nil); json.Unmarshal(w.Body.Bytes(), &res) != nil || len(res.Results) != 2 || !res.Valid {
		t.Errorf("api search: %s", w.Body)
	}

	// Caching: the generation's ETag and time answer 304 until it changes.
	etag := page.Header().Get("ETag")
	if etag == "" || page.Header().Get("Last-Modified") == "" {
		t.Fatalf("no ETag or Last-Modified: %v", page.Header())
	}
	if w := pagesGet(t, h, "/shop/packages/app", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", w.Code)
	}

	// The pages follow the repository: a new generation is read, and the
	// feed says what changed.
	time.Sleep(10 * time.Millisecond)
	next := pagesFixture()[:3]
	next[0] = pagesEntry("app", "1:2.1-1", 1700000400)
	next = append(next, pagesEntry("newcomer", "1-1", 1700000500))
	writePagesRepo(t, dir, next)
	if w := pagesGet(t, h, "/shop/packages/app", map[string]string{"If-None-Match": etag}); w.Code != 200 || !strings.Contains(w.Body.String(), "app 1:2.1-1") {
		t.Errorf("after a change: %d", w.Code)
	}
	if w := pagesGet(t, h, "/shop/packages/evil", nil); w.Code != 404 {
		t.Errorf("a removed package: %d", w.Code)
	}
	feed := pagesGet(t, h, "/shop/feed.atom", nil)
	for _, want := range []string{"app upgraded to 1:2.1-1", "newcomer 1-1 added", "evil 1-1 removed", "extra-tool 3-1 removed", "lib-impl 1.1-1 built", `<link href="http://example.com/shop/packages/newcomer">`} {
		if !strings.Contains(feed.Body.String(), want) {
			t.Errorf("feed lacks %q:\n%s", want, feed.Body)
		}
	}
}

// TestPackagePagesSingle: a repository served alone keeps / for pacman
// and has its pages at /packages/ too.
func TestPackagePagesSingle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePagesRepo(t, dir, pagesFixture())
	h, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Dir: dir}}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := pagesGet(t, h, "/", nil); w.Code != 404 {
		t.Errorf("/ without --list: %d", w.Code)
	}
	for _, path := range []string{"/packages/", "/shop/packages/", "/packages/app", "/feed.atom", "/shop/shop.db"} {
		if w := pagesGet(t, h, path, nil); w.Code != 200 {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	off, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Dir: dir}}})
	if err != nil {
		t.Fatal(err)
	}
	if w := pagesGet(t, off, "/shop/packages/", nil); w.Code != 404 {
		t.Errorf("pages off: %d", w.Code)
	}
}

// TestPackagePageSignatures: the signature line says whether a package is
// signed and, with a keyring, whether the signature is valid and by whom.
func TestPackagePageSignatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	packager, other := testutil.NewPGPKey(t, "packager"), testutil.NewPGPKey(t, "other")
	var entries []repodb.Entry
	for _, name := range []string{"signed", "forged", "embedded", "plain"} {
		e := pagesEntry(name, "1-1", 1700000000)
		path := filepath.Join(dir, e.Filename)
		if err := os.WriteFile(path, []byte("the package "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		switch name {
		case "signed":
			packager.SignFile(t, path)
		case "forged":
			other.SignFile(t, path)
		case "embedded":
			e.PGPSig = base64.StdEncoding.EncodeToString(packager.Sign(t, path))
		}
		entries = append(entries, e)
	}
	loc := repodb.Location{Dir: dir, Name: "shop", Ext: ".tar.zst"}
	if err := repodb.Write(loc, entries, repodb.WriteOptions{PGPSig: true}); err != nil {
		t.Fatal(err)
	}
	keyring, err := signature.LoadKeyring([]string{packager.Keyring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	withKeys, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Dir: dir, Keyring: keyring}}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}
	without, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Dir: dir}}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}
	sigLine := regexp.MustCompile(`(?s)<dd id="signature">(.*?)</dd>`)
	line := func(h http.Handler, name string) string {
		m := sigLine.FindStringSubmatch(pagesGet(t, h, "/shop/packages/"+name, nil).Body.String())
		if m == nil {
			t.Fatalf("%s: no signature line", name)
		}
		return m[1]
	}
	for name, want := range map[string]string{
		"signed":   `present (<a href="../signed-1-1-any.pkg.tar.zst.sig">.sig</a>): <span class="ok">valid, by key ` + packager.Fingerprint,
		"forged":   `<span class="bad">not valid: signature by an unknown key`,
		"embedded": `in the database: <span class="ok">valid, by key ` + packager.Fingerprint,
		"plain":    "not signed",
	} {
		if got := line(withKeys, name); !strings.Contains(got, want) {
			t.Errorf("%s with a keyring: %q, want %q", name, got, want)
		}
	}
	if got := line(without, "signed"); !strings.Contains(got, "not verified (no keyring)") {
		t.Errorf("without a keyring: %q", got)
	}
	var pkg apiPackage
	if err := json.Unmarshal(pagesGet(t, withKeys, "/api/v1/shop/packages/signed", nil).Body.Bytes(), &pkg); err != nil || pkg.Signature == nil ||
		!pkg.Signature.Valid || pkg.Signature.Key != packager.Fingerprint {
		t.Errorf("api signature: %+v %v", pkg.Signature, err)
	}
}

// TestPackagePagesFollowChanges: requests that come while the database is
// rewritten get a whole generation, old or new, never an error, and the
// pages end at the last one.
func TestPackagePagesFollowChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	entries := pagesFixture()
	writePagesRepo(t, dir, entries)
	h, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Dir: dir}}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}
	const generations = 3
	done := make(chan struct{})
	errs := make(chan string, 100)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				req := httptest.NewRequest(http.MethodGet, "/api/v1/shop/packages?q=gen", nil)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				var res apiSearchResult
				if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &res) != nil {
					errs <- fmt.Sprintf("status %d: %s", w.Code, w.Body)
					return
				}
				// Generation N holds gen1..genN: a reader never goes back.
				if len(res.Results) < seen {
					errs <- fmt.Sprintf("saw %d packages after %d", len(res.Results), seen)
					return
				}
				seen = len(res.Results)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	for i := 1; i <= generations; i++ {
		entries = append(entries, pagesEntry(fmt.Sprintf("gen%d", i), "1-1", 1700000000))
		writePagesRepo(t, dir, entries)
		time.Sleep(5 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if w := pagesGet(t, h, "/shop/packages/?q=gen", nil); !strings.Contains(w.Body.String(), fmt.Sprintf("%d of %d packages match", generations, len(entries))) {
		t.Errorf("after the last change:\n%s", w.Body)
	}
}

// TestCatalogFind: search, sorting both ways, and pages of pageRows.
func TestCatalogFind(t *testing.T) {
	t.Parallel()
	var entries []repodb.Entry
	for i := range 450 {
		e := pagesEntry(fmt.Sprintf("p%03d", i), "1-1", int64(1700000000+i%7*1000+i))
		if i%3 == 0 {
			e.Desc = "Third Of Them"
		}
		entries = append(entries, e)
	}
	c := newCatalog("shop", "g", time.Unix(1700000000, 0), false, entries, time.Now())
	names := func(ps []*pkgView) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Name
		}
		return out
	}
	rows, total, pages := c.find(listQuery{Sort: "name", Page: 3})
	if total != 450 || pages != 3 || len(rows) != 50 || rows[0].Name != "p400" {
		t.Errorf("page 3 by name: %d rows from %v, %d in all, %d pages", len(rows), names(rows[:1]), total, pages)
	}
	rows, _, _ = c.find(listQuery{Sort: "-name", Page: 1})
	if len(rows) != pageRows || rows[0].Name != "p449" || rows[199].Name != "p250" {
		t.Errorf("page 1 by name, Z to A: %v ... %v", rows[0].Name, rows[len(rows)-1].Name)
	}
	rows, _, _ = c.find(listQuery{Sort: "-name", Page: 3})
	if len(rows) != 50 || rows[49].Name != "p000" {
		t.Errorf("page 3 by name, Z to A: %d rows, last %v", len(rows), rows[len(rows)-1].Name)
	}
	for _, sort := range []string{"-date", "date"} {
		rows, _, _ = c.find(listQuery{Sort: sort, Page: 1})
		for i := 1; i < len(rows); i++ {
			if newer := rows[i].BuildDate > rows[i-1].BuildDate; newer != (sort == "date") && rows[i].BuildDate != rows[i-1].BuildDate {
				t.Fatalf("sort %s: %s (%d) after %s (%d)", sort, rows[i].Name, rows[i].BuildDate, rows[i-1].Name, rows[i-1].BuildDate)
			}
		}
	}
	rows, total, _ = c.find(listQuery{Q: "third them", Sort: "name", Page: 1})
	if total != 150 || rows[0].Name != "p000" || rows[1].Name != "p003" {
		t.Errorf("search by description words: %d found, %v", total, names(rows[:2]))
	}
	if _, total, pages = c.find(listQuery{Q: "nothing-like-it", Sort: "name", Page: 9}); total != 0 || pages != 1 {
		t.Errorf("no match: %d, %d pages", total, pages)
	}
}

// generationObjects is a bucket's newest generation in memory: each
// public database name resolves to the object of the current generation.
type generationObjects struct {
	mu      sync.Mutex
	gen     int
	objects map[string][]byte
}

func (g *generationObjects) set(dir string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	g.objects = map[string][]byte{}
	for name, file := range map[string]string{"shop.db": "shop.db.tar.zst", "shop.files": "shop.files.tar.zst"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			panic(err)
		}
		g.objects[name] = data
	}
}

func (g *generationObjects) Resolve(_ context.Context, name string) (objstore.Object, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	data, ok := g.objects[name]
	if !ok {
		return objstore.Object{}, fmt.Errorf("%s: %w", name, objstore.ErrNotFound)
	}
	key := fmt.Sprintf("gen%d/%s", g.gen, name)
	return objstore.Object{Key: key, Size: int64(len(data)), ETag: `"` + key + `"`, Modified: time.Now()}, nil
}

// ResolveGeneration: a signature is not asked for here, so the newest
// generation answers whatever generation is named.
func (g *generationObjects) ResolveGeneration(ctx context.Context, name string, _ int64) (objstore.Object, int64, error) {
	obj, err := g.Resolve(ctx, name)
	g.mu.Lock()
	defer g.mu.Unlock()
	return obj, int64(g.gen), err
}

func (g *generationObjects) OpenAt(_ context.Context, obj objstore.Object, off int64) (io.ReadCloser, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen, name, _ := strings.Cut(obj.Key, "/")
	if gen != fmt.Sprintf("gen%d", g.gen) {
		return nil, fmt.Errorf("%s: %w", obj.Key, objstore.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(g.objects[name][off:])), nil
}

// TestPackagePagesOfBucket: the pages of a repository in object storage
// read its newest generation, and follow it within a second.
func TestPackagePagesOfBucket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePagesRepo(t, dir, pagesFixture())
	objs := &generationObjects{}
	objs.set(dir)
	h, err := NewHandler(Options{Repos: []Repository{{Name: "shop", Objects: objs, ObjectsURL: "s3://bucket/shop.db.tar.zst"}}, Pages: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := pagesGet(t, h, "/shop/packages/app", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "usr/bin/app") {
		t.Fatalf("package page of a bucket: %d\n%s", w.Code, w.Body)
	}
	writePagesRepo(t, dir, append(pagesFixture(), pagesEntry("newcomer", "1-1", 1700000500)))
	objs.set(dir)
	deadline := time.Now().Add(10 * time.Second)
	for pagesGet(t, h, "/shop/packages/newcomer", nil).Code != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the pages did not follow the bucket's new generation")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if w := pagesGet(t, h, "/shop/feed.atom", nil); !strings.Contains(w.Body.String(), "newcomer 1-1 added") {
		t.Errorf("feed of a bucket:\n%s", w.Body)
	}
}

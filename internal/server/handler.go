// Package server serves pacman repositories over HTTP: the databases,
// their links, the packages and their signatures (and, when asked, metrics
// at /metrics and the package pages of pages.go), and no other file.
//
// Every file is opened once per request and served from that open file
// with http.ServeContent. pacrepo replaces databases by atomic rename, so
// a request that opened the old database keeps reading the old inode to
// the end, and a request that comes after the rename gets the new one: a
// reader never sees a half-written or missing database. A repository with
// history serves its databases by generation (generations.go), so that a
// database and its signature belong together.
package server

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// Cache-Control values. Databases and signatures change in place under the
// same name, so caches must revalidate them every time (the ETag makes that
// cheap). A package file name carries the package's version, so its bytes
// practically never change; a day of caching still lets a rebuilt package
// with an unchanged version (which happens on build farms) reach clients.
const (
	cacheDatabase = "no-cache"
	cachePackage  = "public, max-age=86400"
)

// DefaultWriteIdleTimeout is how long a client may take to accept each
// chunk of a response before the connection is closed.
const DefaultWriteIdleTimeout = time.Minute

// Options configure the handler.
type Options struct {
	Repos []Repository

	// List turns on plain HTML listings of the public files at /NAME/
	// and of the repositories at /.
	List bool

	// FollowExternalLinks serves packages and signatures that are symbolic
	// links to files outside the repository directory (as `add --link`
	// makes them), while their target is the registered file (see
	// links.go). Database links must always stay inside the directory.
	FollowExternalLinks bool

	// Auth, when not nil, requires HTTP basic authentication.
	Auth *Credentials

	// AccessLog, when not nil, gets one line per request.
	AccessLog *slog.Logger

	// Metrics answers /metrics in Prometheus' text format (behind Auth
	// like everything else).
	Metrics bool

	// Pages serves the package pages, their JSON API and feed (pages.go)
	// beside the files.
	Pages bool

	// WriteIdleTimeout bounds the time a client may take to accept each
	// chunk of a response; 0 means DefaultWriteIdleTimeout, negative
	// means no limit.
	WriteIdleTimeout time.Duration
}

type handler struct {
	repos      map[string]Repository
	names      []string // sorted repository names
	opts       Options
	registered registeredFiles // for FollowExternalLinks
	counts     packageCounts   // for Metrics
	catalogs   catalogs        // for Pages
	pairs      pairs           // the generation of the database each client got
	newest     newestRecords   // of the directories with history
	// snapshotPkgs caches what each snapshot served holds.
	snapshotPkgs snapshotPackages
}

// NewHandler returns the handler serving opts.Repos under /NAME/ (and a
// single repository at / too).
func NewHandler(opts Options) (http.Handler, error) {
	if len(opts.Repos) == 0 {
		return nil, errors.New("no repository to serve")
	}
	h := &handler{repos: map[string]Repository{}, opts: opts, catalogs: catalogs{started: time.Now()}}
	if h.opts.WriteIdleTimeout == 0 {
		h.opts.WriteIdleTimeout = DefaultWriteIdleTimeout
	}
	for _, r := range opts.Repos {
		if !layout.ValidRepoName(r.Name) {
			return nil, fmt.Errorf("repository name %q cannot be served", r.Name)
		}
		if _, dup := h.repos[r.Name]; dup {
			return nil, fmt.Errorf("repository name %s is used twice", r.Name)
		}
		if r.Objects != nil {
			h.repos[r.Name] = Repository{Name: r.Name, Objects: r.Objects, ObjectsURL: r.ObjectsURL, Keyring: r.Keyring}
			h.names = append(h.names, r.Name)
			continue
		}
		dir, err := filepath.Abs(r.Dir)
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", r.Name, err)
		}
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("repository %s: %w", r.Name, err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("repository %s: %s is not a directory", r.Name, dir)
		}
		h.repos[r.Name] = Repository{Name: r.Name, Dir: dir, Keyring: r.Keyring, Retired: r.Retired, Grace: r.Grace}
		h.names = append(h.names, r.Name)
	}
	sort.Strings(h.names)
	return h, nil
}

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	idle := h.opts.WriteIdleTimeout
	if idle < 0 {
		idle = 0
	}
	w := newTrackedWriter(rw, idle)
	w.extendDeadline()
	user := h.serve(w, r)
	// The server flushes the rest of the response after we return; give
	// that flush the same allowance.
	w.extendDeadline()
	if h.opts.AccessLog != nil {
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{
			slog.String("remote", r.RemoteAddr),
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", status),
			slog.Int64("bytes", w.bytes),
			slog.Duration("duration", time.Since(start)),
		}
		if user != "" {
			attrs = append(attrs, slog.String("user", user))
		}
		h.opts.AccessLog.Info("request", attrs...)
	}
}

// serve answers r and returns the authenticated user, if any.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) string {
	var user string
	if h.opts.Auth != nil {
		u, p, ok := r.BasicAuth()
		if !ok || !h.opts.Auth.Check(u, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="pacrepo", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return ""
		}
		user = u
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return user
	}
	segs, ok := splitPath(r.URL)
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return user
	}
	if h.opts.Metrics && len(segs) == 1 && segs[0] == "metrics" {
		h.serveMetrics(w, r)
		return user
	}
	// One repository is also served at the root, as repoctl's host did, so
	// that "Server = http://host:8080" keeps working after switching.
	single, isSingle := h.single()
	if h.pagesRoute(w, r, segs) {
		return user
	}
	switch {
	case len(segs) == 0 && h.opts.Pages && !isSingle: // "/": the repositories' pages
		h.serveIndex(w, r)
	case len(segs) == 0: // "/"
		if !h.opts.List {
			notFound(w)
			return user
		}
		if isSingle {
			h.listFiles(w, r, single)
			return user
		}
		h.listRepos(w, r)
	case len(segs) == 1 && isSingle && publicKind(single.Name, segs[0]) != layout.Other: // "/FILE"
		h.serveFile(w, r, single, segs[0])
	case len(segs) == 1: // "/NAME"
		if _, ok := h.repos[segs[0]]; !ok || !h.opts.List {
			notFound(w)
			return user
		}
		http.Redirect(w, r, "/"+url.PathEscape(segs[0])+"/", http.StatusMovedPermanently)
	case len(segs) == 2: // "/NAME/" or "/NAME/FILE"
		repo, ok := h.repos[segs[0]]
		if !ok {
			notFound(w)
			return user
		}
		if segs[1] == "" {
			if !h.opts.List {
				notFound(w)
				return user
			}
			h.listFiles(w, r, repo)
			return user
		}
		h.serveFile(w, r, repo, segs[1])
	case len(segs) == 4 && segs[1] == snapshotsSegment: // "/NAME/snapshots/S/FILE"
		repo, ok := h.repos[segs[0]]
		if !ok {
			notFound(w)
			return user
		}
		h.serveSnapshotFile(w, r, repo, segs[2], segs[3])
	case len(segs) == 3 && isSingle && segs[0] == snapshotsSegment: // "/snapshots/S/FILE"
		h.serveSnapshotFile(w, r, single, segs[1], segs[2])
	default:
		// pacman never asks for other subpaths.
		notFound(w)
	}
	return user
}

// single returns the repository when the handler serves only one.
func (h *handler) single() (Repository, bool) {
	if len(h.names) != 1 {
		return Repository{}, false
	}
	return h.repos[h.names[0]], true
}

// splitPath splits the escaped request path into unescaped segments. It
// refuses encoded separators, NUL, and dot segments, so that no decoding
// trick can name anything but a flat file of a repository directory.
func splitPath(u *url.URL) ([]string, bool) {
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	p = p[1:]
	if p == "" {
		return nil, true
	}
	raw := strings.Split(p, "/")
	segs := make([]string, 0, len(raw))
	for i, s := range raw {
		seg, err := url.PathUnescape(s)
		if err != nil || strings.ContainsAny(seg, "/\\\x00") || seg == "." || seg == ".." {
			return nil, false
		}
		if seg == "" && i != len(raw)-1 {
			return nil, false // "//" or a leading empty segment
		}
		segs = append(segs, seg)
	}
	return segs, true
}

func notFound(w http.ResponseWriter) { http.Error(w, "not found", http.StatusNotFound) }

// serveFile serves one public file of repo, opened once for the whole
// request.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, repo Repository, name string) {
	kind := publicKind(repo.Name, name)
	if kind == layout.Other {
		notFound(w)
		return
	}
	if base, files, isSig, ok := databaseRequest(repo.Name, name); ok && h.serveGeneration(w, r, repo, name, base, files, isSig) {
		return
	}
	if repo.Objects != nil {
		h.serveObject(w, r, repo, name, kind)
		return
	}
	f, err := h.openPublic(repo, name, kind)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = openRetired(repo, name, kind)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errOutside) || errors.Is(err, errNotPublic) || isLinkRefused(err) {
			notFound(w)
			return
		}
		http.Error(w, "cannot open file", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot stat file", http.StatusInternalServerError)
		return
	}
	if !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	var content io.ReadSeeker = f
	if base, ok := strings.CutSuffix(name, ".sig"); ok && kind == layout.Signature {
		switch publicKind(repo.Name, base) {
		case layout.Database, layout.DatabaseLink:
			sig, err := h.databaseSignature(repo, base, name)
			if err != nil {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "the database is being replaced: retry", http.StatusServiceUnavailable)
				return
			}
			content = bytes.NewReader(sig)
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", etagOf(fi))
	if kind == layout.Package {
		hdr.Set("Cache-Control", cachePackage)
	} else {
		hdr.Set("Cache-Control", cacheDatabase)
	}
	limitRanges(r, fi.Size())
	http.ServeContent(w, r, name, fi.ModTime(), content)
}

// databaseSignature reads the database signature sigFile (of the database
// named db) and returns it only when it was made over the database the
// server would serve now: pacrepo writes a database and then its signature,
// so for the time between the two renames they disagree, and pacman must
// never get a signature of another database. The database is read once
// more when they disagree, in case it was replaced meanwhile.
func (h *handler) databaseSignature(repo Repository, db, sigName string) ([]byte, error) {
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		sig, err := h.readPublic(repo, sigName, signature.MaxSize)
		if err != nil {
			return nil, err
		}
		f, err := h.openPublic(repo, db, publicKind(repo.Name, db))
		if err != nil {
			return nil, err
		}
		ok, err := signature.Matches(f, sig)
		f.Close()
		if err != nil {
			return nil, err
		}
		if ok {
			return sig, nil
		}
	}
	return nil, fmt.Errorf("%s was not made over %s", sigName, db)
}

// readPublic reads the public file name of repo, at most limit bytes.
func (h *handler) readPublic(repo Repository, name string, limit int64) ([]byte, error) {
	f, err := h.openPublic(repo, name, publicKind(repo.Name, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// errOutside: a symbolic link that leads outside the repository directory
// (or is absolute, or loops) and may not be followed.
var errOutside = errors.New("symbolic link leads outside the repository directory")

func (h *handler) listRepos(w http.ResponseWriter, r *http.Request) {
	links := make([]string, 0, len(h.names))
	for _, n := range h.names {
		links = append(links, n+"/")
	}
	writeListing(w, r, "/", links)
}

func (h *handler) listFiles(w http.ResponseWriter, r *http.Request, repo Repository) {
	if repo.Objects != nil {
		notFound(w) // a bucket is not listed
		return
	}
	entries, err := os.ReadDir(repo.Dir)
	if err != nil {
		http.Error(w, "cannot list repository", http.StatusInternalServerError)
		return
	}
	var names []string
	for _, e := range entries {
		if publicKind(repo.Name, e.Name()) != layout.Other {
			names = append(names, e.Name())
		}
	}
	writeListing(w, r, "/"+repo.Name+"/", names)
}

func writeListing(w http.ResponseWriter, r *http.Request, title string, names []string) {
	sort.Strings(names)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n<h1>%s</h1>\n<ul>\n",
		html.EscapeString(title), html.EscapeString(title))
	for _, n := range names {
		href := (&url.URL{Path: n}).EscapedPath()
		if strings.Contains(n, ":") {
			href = "./" + href // never read as a URL scheme
		}
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(href), html.EscapeString(n))
	}
	b.WriteString("</ul>\n</body></html>\n")
	_, _ = io.WriteString(w, b.String())
}

package server

// The package pages: HTML for people, JSON for programs, an Atom feed for
// feed readers, all read from the repository's catalog (catalog.go).
//
//	/                          the repositories (when several are served)
//	/R/packages/               packages of R: ?q= search, sort=, page=
//	/R/packages/NAME           one package
//	/R/feed.atom               recent changes
//	/api/v1/R/packages?q=      search, as JSON
//	/api/v1/R/packages/NAME    one package, as JSON
//
// A repository served alone has its pages at /packages/ and /feed.atom
// too. Links inside the pages are relative, so that both places work, and
// link only to pages and to files the allow-list serves.

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// pageRows is the most packages one page lists.
const pageRows = 200

//go:embed pages/*.html
var pageFiles embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"pkgHref": pkgHref,
	"date":    formatDate,
	"size":    humanSize,
	// webURL: only http(s) URLs of the metadata become links.
	"webURL": func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	},
}).ParseFS(pageFiles, "pages/*.html"))

// pkgHref is the link from a package page or the list to the page of
// the package name.
func pkgHref(name string) string { return "./" + url.PathEscape(name) }

// formatDate writes a build date for people.
func formatDate(unix int64) string {
	if unix <= 0 {
		return ""
	}
	return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04 UTC")
}

// pagesRoute answers the pages' paths; false when segs is none of them.
func (h *handler) pagesRoute(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if !h.opts.Pages {
		return false
	}
	// /api/v1/R/packages[/NAME]
	if len(segs) >= 4 && segs[0] == "api" && segs[1] == "v1" && segs[3] == "packages" {
		repo, ok := h.repos[segs[2]]
		switch {
		case !ok || len(segs) > 5:
			notFound(w)
		case len(segs) == 4 || segs[4] == "":
			h.apiSearch(w, r, repo)
		default:
			h.apiPackage(w, r, repo, segs[4])
		}
		return true
	}
	repo, rest, ok := h.pagesRepo(segs)
	if !ok {
		return false
	}
	switch {
	case len(rest) == 1 && rest[0] == "feed.atom":
		h.serveFeed(w, r, repo)
	case len(rest) == 1 && rest[0] == "packages":
		http.Redirect(w, r, "packages/", http.StatusMovedPermanently)
	case len(rest) == 2 && rest[0] == "packages" && rest[1] == "":
		h.servePackageList(w, r, repo)
	case len(rest) == 2 && rest[0] == "packages":
		h.servePackage(w, r, repo, rest[1])
	default:
		return false
	}
	return true
}

// pagesRepo splits the pages' path segs into the repository and the rest:
// /R/... for every repository, /... for one served alone (where a
// repository's own name comes first).
func (h *handler) pagesRepo(segs []string) (Repository, []string, bool) {
	if len(segs) == 0 {
		return Repository{}, nil, false
	}
	if repo, ok := h.repos[segs[0]]; ok && len(segs) > 1 {
		return repo, segs[1:], true
	}
	if single, ok := h.single(); ok {
		return single, segs, true
	}
	return Repository{}, nil, false
}

// serveIndex answers / with the repositories served.
func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	type repoRow struct {
		Name     string
		Packages int
		Modified string
		Listed   bool
	}
	var rows []repoRow
	latest := time.Time{}
	for _, name := range h.names {
		row := repoRow{Name: name, Packages: -1, Listed: h.opts.List && h.repos[name].Objects == nil}
		if c, err := h.catalog(r.Context(), h.repos[name]); err == nil {
			row.Packages = len(c.byName)
			row.Modified = c.modified.UTC().Format("2006-01-02 15:04 UTC")
			if c.modified.After(latest) {
				latest = c.modified
			}
		}
		rows = append(rows, row)
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, "index.html", map[string]any{"Repos": rows}); err != nil {
		h.pageError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "", latest, bytes.NewReader(buf.Bytes()))
}

// listQuery is what a list page or a search was asked for.
type listQuery struct {
	Q    string
	Sort string // name, -name, date, -date
	Page int    // from 1
}

func parseListQuery(r *http.Request) listQuery {
	v := r.URL.Query()
	q := listQuery{Q: strings.TrimSpace(v.Get("q")), Sort: v.Get("sort"), Page: 1}
	switch q.Sort {
	case "name", "-name", "date", "-date":
	default:
		q.Sort = "name"
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 1 {
		q.Page = n
	}
	return q
}

// find returns the page of packages q asks for, and the number of pages.
func (c *catalog) find(q listQuery) ([]*pkgView, int, int) {
	order := c.byName
	if q.Sort == "date" || q.Sort == "-date" {
		order = c.byDate
	}
	found := search(order, q.Q)
	pages := max(1, (len(found)+pageRows-1)/pageRows)
	page := min(q.Page, pages)
	from, to := (page-1)*pageRows, min(page*pageRows, len(found))
	out := found[from:to]
	if q.Sort == "-name" || q.Sort == "-date" {
		// Reversed orders page from the other end.
		out = make([]*pkgView, 0, to-from)
		for i := len(found) - 1 - from; i >= len(found)-to; i-- {
			out = append(out, found[i])
		}
	}
	return out, len(found), pages
}

func (q listQuery) href(page int, sort string) string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if sort != "name" {
		v.Set("sort", sort)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "./"
	}
	return "./?" + v.Encode()
}

func (h *handler) servePackageList(w http.ResponseWriter, r *http.Request, repo Repository) {
	c, ok := h.pageCatalog(w, r, repo)
	if !ok {
		return
	}
	q := parseListQuery(r)
	found, total, pages := c.find(q)
	rows := make([]listRow, len(found))
	for i, p := range found {
		rows[i] = p.row
	}
	page := min(q.Page, pages)
	data := map[string]any{
		"Repo": repo.Name, "Query": q, "Rows": rows, "Total": total, "All": len(c.byName),
		"Page": page, "Pages": pages,
		"Prev": q.href(page-1, q.Sort), "Next": q.href(page+1, q.Sort),
		"SortName": q.href(1, flip(q.Sort, "name")), "SortDate": q.href(1, flip(q.Sort, "-date")),
	}
	h.renderPage(w, r, c, "list.html", data)
}

// flip is the sort a column's heading asks for: its own order, or the
// reverse when the page is sorted so already.
func flip(current, column string) string {
	if current == column {
		if strings.HasPrefix(column, "-") {
			return column[1:]
		}
		return "-" + column
	}
	return column
}

// depLink is one dependency as a package page shows it.
type depLink struct {
	Text string
	Href string // "" when the repository has no package for it
}

func (h *handler) servePackage(w http.ResponseWriter, r *http.Request, repo Repository, name string) {
	c, ok := h.pageCatalog(w, r, repo)
	if !ok {
		return
	}
	p, found := c.named[name]
	if !found {
		notFound(w)
		return
	}
	links := func(deps []string) []depLink {
		out := make([]depLink, 0, len(deps))
		for _, d := range deps {
			l := depLink{Text: d}
			if target := c.linkTarget(d); target != "" {
				l.Href = "./" + url.PathEscape(target)
			}
			out = append(out, l)
		}
		return out
	}
	var siblings []string
	for _, s := range c.bases[cmp.Or(p.Base, p.Name)] {
		if s != p {
			siblings = append(siblings, s.Name)
		}
	}
	// A file name the server would not serve is not even named.
	download := ""
	if publicKind(repo.Name, p.Filename) == layout.Package {
		download = "../" + url.PathEscape(p.Filename)
	}
	sig := h.signatureOf(r.Context(), repo, p)
	sigHref := ""
	if sig.File != "" {
		sigHref = "../" + url.PathEscape(sig.File)
	}
	var hist []change
	recorded := false
	c = h.withChanges(r.Context(), repo, c, func(src changeSource, own bool) { hist, recorded = src.of(c, p.Name), own })
	data := map[string]any{
		"Repo": repo.Name, "P": p, "Siblings": siblings,
		"Depends": links(p.Depends), "OptDepends": links(p.OptDepends), "MakeDepends": links(p.MakeDepends),
		"CheckDepends": links(p.CheckDepends), "Provides": p.Provides, "Conflicts": links(p.Conflicts),
		"Replaces": links(p.Replaces), "RequiredBy": c.requiredBy[p.Name],
		"HasFiles": c.hasFiles, "Files": p.FileList(), "Download": download, "Sig": sig, "SigHref": sigHref, "History": hist,
		"Recorded": recorded,
	}
	h.renderPage(w, r, c, "package.html", data)
}

// pageCatalog is repo's catalog for a page, or an error answered.
func (h *handler) pageCatalog(w http.ResponseWriter, r *http.Request, repo Repository) (*catalog, bool) {
	c, err := h.catalog(r.Context(), repo)
	if err != nil {
		if errors.Is(err, errNoDatabase) {
			http.Error(w, "the repository has no database yet", http.StatusNotFound)
			return nil, false
		}
		if h.opts.AccessLog != nil {
			h.opts.AccessLog.Warn("package pages", slog.String("repository", repo.Name), slog.String("error", err.Error()))
		}
		http.Error(w, "the repository's database cannot be read", http.StatusServiceUnavailable)
		return nil, false
	}
	return c, true
}

// renderPage writes the template name with data, with the generation's
// caching headers.
func (h *handler) renderPage(w http.ResponseWriter, r *http.Request, c *catalog, name string, data map[string]any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		h.pageError(w, err)
		return
	}
	h.serveGenerated(w, r, c, "text/html; charset=utf-8", buf.Bytes())
}

// serveGenerated answers with body, made from catalog c: its ETag and
// Last-Modified are the generation's, so a client revalidates for the
// price of two stats.
func (h *handler) serveGenerated(w http.ResponseWriter, r *http.Request, c *catalog, contentType string, body []byte) {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", c.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	// No script runs in the pages, nothing is loaded from elsewhere.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	http.ServeContent(w, r, "", c.modified, bytes.NewReader(body))
}

func (h *handler) pageError(w http.ResponseWriter, err error) {
	if h.opts.AccessLog != nil {
		h.opts.AccessLog.Error("package pages", slog.String("error", err.Error()))
	}
	http.Error(w, "cannot render the page", http.StatusInternalServerError)
}

// humanSize writes a byte count for people.
func humanSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

// absoluteBase is the URL of the request's host, for the feed's links.
func absoluteBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

package server

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// apiPackage is a package in the JSON API: archweb's field names and
// types where they mean the same (its build_date is an ISO 8601 time, its
// epoch a number), then what only pacrepo has.
type apiPackage struct {
	Pkgname        string   `json:"pkgname"`
	Pkgbase        string   `json:"pkgbase"`
	Repo           string   `json:"repo"`
	Arch           string   `json:"arch"`
	Pkgver         string   `json:"pkgver"`
	Pkgrel         string   `json:"pkgrel"`
	Epoch          int      `json:"epoch"`
	Pkgdesc        string   `json:"pkgdesc"`
	URL            string   `json:"url"`
	Filename       string   `json:"filename"`
	CompressedSize int64    `json:"compressed_size"`
	InstalledSize  int64    `json:"installed_size"`
	BuildDate      string   `json:"build_date"`
	Packager       string   `json:"packager"`
	Groups         []string `json:"groups"`
	Licenses       []string `json:"licenses"`
	Conflicts      []string `json:"conflicts"`
	Provides       []string `json:"provides"`
	Replaces       []string `json:"replaces"`
	Depends        []string `json:"depends"`
	Optdepends     []string `json:"optdepends"`
	Makedepends    []string `json:"makedepends"`
	Checkdepends   []string `json:"checkdepends"`
	SHA256Sum      string   `json:"sha256sum"`

	// Of one package only (/api/v1/R/packages/NAME).
	RequiredBy  []string      `json:"required_by,omitempty"`
	OptionalFor []string      `json:"optional_for,omitempty"`
	Files       []string      `json:"files,omitempty"`
	Signature   *apiSignature `json:"signature,omitempty"`
}

type apiSignature struct {
	Present  bool   `json:"present"`
	Embedded bool   `json:"embedded"`
	Checked  bool   `json:"checked"`
	Valid    bool   `json:"valid"`
	Key      string `json:"key,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// apiSearchResult is archweb's search answer.
type apiSearchResult struct {
	Version  int          `json:"version"`
	Limit    int          `json:"limit"`
	Valid    bool         `json:"valid"`
	Results  []apiPackage `json:"results"`
	NumPages int          `json:"num_pages"`
	Page     int          `json:"page"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toAPI(repo string, p *pkgView) apiPackage {
	epoch, _ := strconv.Atoi(p.Epoch)
	filename := p.Filename
	if publicKind(repo, filename) != layout.Package {
		filename = "" // not served: not named
	}
	return apiPackage{
		Filename: filename,
		Pkgname:  p.Name, Pkgbase: cmp.Or(p.Base, p.Name), Repo: repo, Arch: p.Arch,
		Pkgver: p.Pkgver, Pkgrel: p.Pkgrel, Epoch: epoch, Pkgdesc: p.Desc, URL: p.URL,
		CompressedSize: p.CSize, InstalledSize: p.ISize,
		BuildDate: time.Unix(p.BuildDate, 0).UTC().Format(time.RFC3339), Packager: p.Packager,
		Groups: nonNil(p.Groups), Licenses: nonNil(p.Licenses), Conflicts: nonNil(p.Conflicts),
		Provides: nonNil(p.Provides), Replaces: nonNil(p.Replaces), Depends: nonNil(p.Depends),
		Optdepends: nonNil(p.OptDepends), Makedepends: nonNil(p.MakeDepends), Checkdepends: nonNil(p.CheckDepends),
		SHA256Sum: p.SHA256Sum,
	}
}

func (h *handler) apiSearch(w http.ResponseWriter, r *http.Request, repo Repository) {
	c, ok := h.pageCatalog(w, r, repo)
	if !ok {
		return
	}
	q := parseListQuery(r)
	rows, _, pages := c.find(q)
	res := apiSearchResult{Version: 2, Limit: pageRows, Valid: true, Results: make([]apiPackage, 0, len(rows)), NumPages: pages, Page: min(q.Page, pages)}
	for _, p := range rows {
		res.Results = append(res.Results, toAPI(repo.Name, p))
	}
	h.writeJSON(w, r, c, res)
}

func (h *handler) apiPackage(w http.ResponseWriter, r *http.Request, repo Repository, name string) {
	c, ok := h.pageCatalog(w, r, repo)
	if !ok {
		return
	}
	p, found := c.named[name]
	if !found {
		notFound(w)
		return
	}
	out := toAPI(repo.Name, p)
	for _, d := range c.requiredBy[p.Name] {
		switch d.How {
		case "":
			out.RequiredBy = append(out.RequiredBy, d.Name)
		case "optional":
			out.OptionalFor = append(out.OptionalFor, d.Name)
		}
	}
	out.Files = p.FileList()
	sig := h.signatureOf(r.Context(), repo, p)
	out.Signature = &apiSignature{Present: sig.Present, Embedded: sig.Embedded, Checked: sig.Checked, Valid: sig.Valid, Key: sig.Key, Problem: sig.Problem}
	h.writeJSON(w, r, c, out)
}

func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, c *catalog, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		h.pageError(w, err)
		return
	}
	h.serveGenerated(w, r, c, "application/json", append(body, '\n'))
}

// Package aurtest runs a fake AUR for tests: an httptest server that
// answers the RPC v5 routes (/rpc/v5/info, /rpc/v5/search/ARG) with the
// shapes aurweb produces, serves snapshot tarballs shaped like cgit's and
// the packages-meta-ext-v1.json.gz dump with ETag / Last-Modified
// revalidation, and can inject 429/5xx replies, Retry-After and hangs.
//
// What it reproduces of aurweb (aurweb/rpc.py, aurweb/routers/rpc.py,
// scripts/mkpkglists.py): the envelope with sorted keys; type "multiinfo"
// for info; HTTP 200 for RPC errors ("No request type/data specified.",
// "Incorrect by field specified.", "Query arg too small.", "Too many
// package results."); HTTP 429 with a JSON error body for the rate limit;
// info fields including Submitter, License and Keywords always present
// (possibly empty), PendingRequests, and dependency/relation lists only
// when not empty; search results without Submitter and list fields; null
// Maintainer, Description, URL and OutOfDate; the by fields and their
// matching (name/name-desc substring, others exact, provides also the
// exact name); the arg/arg[] query parsing; URIs longer than 4443 bytes
// refused with 414 like the AUR's nginx.
//
// What it does not: Popularity decay, the real search ranking and
// ordering, JSONP callbacks, POST forms, suggest types, ETag/304 on RPC
// replies, HTTP/2, and real rate-limit accounting (faults are injected).
package aurtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// MaxURI is the longest request URI the fake accepts, as the real AUR.
const MaxURI = 4443

// Request is one request the server received.
type Request struct {
	Path      string
	URI       string // the request URI as sent (path and query)
	UserAgent string
	Header    http.Header
}

// Fault is an injected reply for the next matching request.
type Fault struct {
	PathPrefix string // "" matches every path
	Status     int
	RetryAfter string // Retry-After header value, when set
	Body       string // reply body; a JSON error envelope when empty
}

// Server is a fake AUR. Use New; add packages before or while running.
type Server struct {
	*httptest.Server

	mu         sync.Mutex
	pkgs       []map[string]any // info-shaped records, in insertion order
	snapshots  map[string][]byte
	faults     []Fault
	requests   []Request
	hang       bool
	metaETag   string
	metaMod    time.Time
	metaBody   []byte
	metaDirty  bool
	nextID     int64
	MaxResults int // "Too many package results." above this (aurweb's max_rpc_results, 5000)
}

// New starts a fake AUR that stops when t ends.
func New(t testing.TB) *Server {
	s := &Server{snapshots: map[string][]byte{}, MaxResults: 5000, nextID: 1000, metaMod: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.SetHang(false)
		s.Server.CloseClientConnections()
		s.Server.Close()
	})
	return s
}

// Pkg describes a package to add. Empty fields become what the AUR shows
// for them: null Maintainer/Description/URL, PackageBase = Name.
type Pkg struct {
	Name, Base, Version, Description, URL, Maintainer, Submitter string

	OutOfDate                                                int64 // 0: not flagged
	NumVotes                                                 int
	Popularity                                               float64
	Depends, MakeDepends, CheckDepends, OptDepends           []string
	Conflicts, Provides, Replaces, Groups, License, Keywords []string
	CoMaintainers                                            []string
}

// Add adds packages with AUR-shaped records.
func (s *Server) Add(pkgs ...Pkg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	baseIDs := map[string]int64{}
	for _, r := range s.pkgs {
		if b, ok := r["PackageBase"].(string); ok {
			baseIDs[b] = toInt(r["PackageBaseID"])
		}
	}
	for _, p := range pkgs {
		base := p.Base
		if base == "" {
			base = p.Name
		}
		s.nextID++
		id := s.nextID
		bid, ok := baseIDs[base]
		if !ok {
			bid = id
			baseIDs[base] = bid
		}
		r := map[string]any{
			"ID":             id,
			"Name":           p.Name,
			"PackageBaseID":  bid,
			"PackageBase":    base,
			"Version":        p.Version,
			"Description":    nullable(p.Description),
			"URL":            nullable(p.URL),
			"NumVotes":       p.NumVotes,
			"Popularity":     p.Popularity,
			"OutOfDate":      nil,
			"Maintainer":     nullable(p.Maintainer),
			"Submitter":      nullable(p.Submitter),
			"FirstSubmitted": int64(1600000000),
			"LastModified":   int64(1700000000),
			"URLPath":        "/cgit/aur.git/snapshot/" + base + ".tar.gz",
			"License":        nonNil(p.License),
			"Keywords":       nonNil(p.Keywords),
		}
		if p.OutOfDate != 0 {
			r["OutOfDate"] = p.OutOfDate
		}
		for k, v := range map[string][]string{
			"Depends": p.Depends, "MakeDepends": p.MakeDepends, "CheckDepends": p.CheckDepends,
			"OptDepends": p.OptDepends, "Conflicts": p.Conflicts, "Provides": p.Provides,
			"Replaces": p.Replaces, "Groups": p.Groups, "CoMaintainers": p.CoMaintainers,
		} {
			if len(v) > 0 {
				r[k] = v
			}
		}
		s.pkgs = append(s.pkgs, r)
	}
	s.metaDirty = true
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}

// SetSnapshot serves data as the snapshot of pkgbase.
func (s *Server) SetSnapshot(pkgbase string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots[pkgbase] = data
}

// Fail queues faults, used once each in order, for the next requests
// that match them.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// SetHang makes every request block until its client gives up.
func (s *Server) SetHang(h bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = h
}

// TouchMeta marks the metadata dump as regenerated (new ETag and date).
func (s *Server) TouchMeta() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metaDirty = true
	s.metaMod = s.metaMod.Add(time.Hour)
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// CountRequests counts recorded requests whose path starts with prefix.
func (s *Server) CountRequests(prefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, URI: r.RequestURI, UserAgent: r.UserAgent(), Header: r.Header.Clone()})
	var fault *Fault
	for i, f := range s.faults {
		if strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			fault = &f
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			break
		}
	}
	hang := s.hang
	s.mu.Unlock()

	if hang {
		<-r.Context().Done()
		return
	}
	if len(r.RequestURI) > MaxURI {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusRequestURITooLong)
		fmt.Fprint(w, "<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n<center><h1>414 Request-URI Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
		return
	}
	if fault != nil {
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		body := fault.Body
		if body == "" && fault.Status == http.StatusTooManyRequests {
			body = string(mustJSON(rpcError("Rate limit reached")))
			w.Header().Set("Content-Type", "application/json")
		} else if body == "" {
			body = "<html><body><h1>" + http.StatusText(fault.Status) + "</h1></body></html>"
			w.Header().Set("Content-Type", "text/html")
		}
		w.WriteHeader(fault.Status)
		fmt.Fprint(w, body)
		return
	}
	switch {
	case r.URL.Path == "/rpc/v5/info":
		s.serveInfo(w, r)
	case strings.HasPrefix(r.URL.Path, "/rpc/v5/search/") || r.URL.Path == "/rpc/v5/search":
		s.serveSearch(w, r)
	case strings.HasPrefix(r.URL.Path, "/cgit/aur.git/snapshot/"):
		s.serveSnapshot(w, r)
	case r.URL.Path == "/packages-meta-ext-v1.json.gz":
		s.serveMeta(w, r)
	default:
		http.NotFound(w, r)
	}
}

func rpcError(msg string) map[string]any {
	return map[string]any{"version": 5, "results": []any{}, "resultcount": 0, "type": "error", "error": msg}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v) // maps marshal with sorted keys, like aurweb's orjson OPT_SORT_KEYS
	if err != nil {
		panic(err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(mustJSON(v))
}

// parseArgs follows aurweb's parse_args: the query is unquoted as a whole,
// split at '&', walked from the last pair; a last "arg" is the only
// argument, otherwise the trailing run of "arg[]" pairs.
func parseArgs(rawQuery string) []string {
	q, err := url.PathUnescape(rawQuery)
	if err != nil {
		q = rawQuery
	}
	pairs := strings.Split(q, "&")
	var parts [][2]string
	for i := len(pairs) - 1; i >= 0; i-- {
		p := pairs[i]
		if strings.HasPrefix(p, "arg=") || strings.HasPrefix(p, "arg[]=") {
			k, v, _ := strings.Cut(p, "=")
			parts = append(parts, [2]string{k, v})
		}
	}
	if len(parts) == 0 {
		return nil
	}
	if parts[0][0] == "arg" {
		return []string{parts[0][1]}
	}
	var args []string
	for _, p := range parts {
		if p[0] != parts[0][0] {
			break
		}
		args = append(args, p[1])
	}
	return args
}

func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request) {
	args := parseArgs(r.URL.RawQuery)
	if len(args) == 0 {
		writeJSON(w, rpcError("No request type/data specified."))
		return
	}
	want := map[string]bool{}
	for _, a := range args {
		want[a] = true
	}
	s.mu.Lock()
	var results []map[string]any
	for _, p := range s.pkgs {
		if want[p["Name"].(string)] {
			results = append(results, infoRecord(p))
		}
	}
	s.mu.Unlock()
	if len(results) > s.MaxResults {
		writeJSON(w, rpcError("Too many package results."))
		return
	}
	writeJSON(w, envelope("multiinfo", results))
}

func envelope(typ string, results []map[string]any) map[string]any {
	if results == nil {
		results = []map[string]any{}
	}
	return map[string]any{"version": 5, "type": typ, "resultcount": len(results), "results": results}
}

func infoRecord(p map[string]any) map[string]any {
	out := make(map[string]any, len(p)+1)
	for k, v := range p {
		out[k] = v
	}
	if _, ok := out["PendingRequests"]; !ok {
		out["PendingRequests"] = 0
	}
	return out
}

// searchFields are the fields aurweb's get_json_data returns, the only
// ones a search result has (without Submitter).
var searchFields = []string{"ID", "Name", "PackageBaseID", "PackageBase", "Maintainer", "Version",
	"Description", "URL", "URLPath", "NumVotes", "Popularity", "OutOfDate", "FirstSubmitted", "LastModified"}

var validBy = map[string]string{"name": "", "name-desc": "", "maintainer": "Maintainer", "submitter": "Submitter",
	"depends": "Depends", "makedepends": "MakeDepends", "optdepends": "OptDepends", "checkdepends": "CheckDepends",
	"provides": "Provides", "conflicts": "Conflicts", "replaces": "Replaces", "groups": "Groups",
	"keywords": "Keywords", "comaintainers": "CoMaintainers"}

func (s *Server) serveSearch(w http.ResponseWriter, r *http.Request) {
	arg := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/rpc/v5/search"), "/")
	if arg == "" {
		arg = r.URL.Query().Get("arg")
	}
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "name-desc"
	}
	field, ok := validBy[by]
	if !ok {
		writeJSON(w, rpcError("Incorrect by field specified."))
		return
	}
	if by != "maintainer" && len(arg) < 2 {
		writeJSON(w, rpcError("Query arg too small."))
		return
	}
	lower := strings.ToLower(arg)
	s.mu.Lock()
	var results []map[string]any
	for _, p := range s.pkgs {
		if !searchMatch(p, by, field, arg, lower) {
			continue
		}
		rec := make(map[string]any, len(searchFields))
		for _, f := range searchFields {
			rec[f] = p[f]
		}
		results = append(results, rec)
	}
	s.mu.Unlock()
	if len(results) > s.MaxResults {
		writeJSON(w, rpcError("Too many package results."))
		return
	}
	writeJSON(w, envelope("search", results))
}

func searchMatch(p map[string]any, by, field, arg, lower string) bool {
	name, _ := p["Name"].(string)
	switch by {
	case "name":
		return strings.Contains(strings.ToLower(name), lower)
	case "name-desc":
		desc, _ := p["Description"].(string)
		return strings.Contains(strings.ToLower(name), lower) || strings.Contains(strings.ToLower(desc), lower)
	case "maintainer", "submitter":
		v, _ := p[field].(string)
		return v == arg // an empty maintainer argument lists orphans
	}
	if by == "provides" && name == arg {
		return true
	}
	for _, v := range stringList(p[field]) {
		// Dependency and relation searches match the bare name.
		n := v
		if i := strings.IndexAny(n, "<>=:"); i >= 0 {
			n = n[:i]
		}
		if n == arg {
			return true
		}
	}
	return false
}

func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/cgit/aur.git/snapshot/")
	base, ok := strings.CutSuffix(name, ".tar.gz")
	s.mu.Lock()
	data, found := s.snapshots[base]
	s.mu.Unlock()
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Header().Set("Content-Disposition", "inline; filename=\""+name+"\"")
	w.Write(data)
}

// metaDump builds packages-meta-ext-v1.json.gz like mkpkglists.py: one
// object per line, no Submitter, Groups/License/Keywords always present.
func (s *Server) metaDump() ([]byte, string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metaBody == nil || s.metaDirty {
		pkgs := append([]map[string]any(nil), s.pkgs...)
		sort.SliceStable(pkgs, func(i, j int) bool { return toInt(pkgs[i]["ID"]) < toInt(pkgs[j]["ID"]) })
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte("[\n"))
		for i, p := range pkgs {
			rec := map[string]any{}
			for k, v := range p {
				if k != "Submitter" && k != "CoMaintainers" && k != "PendingRequests" {
					rec[k] = v
				}
			}
			for _, k := range []string{"Groups", "License", "Keywords"} {
				if _, ok := rec[k]; !ok {
					rec[k] = []string{}
				}
			}
			zw.Write(mustJSON(rec))
			if i < len(pkgs)-1 {
				zw.Write([]byte(","))
			}
			zw.Write([]byte("\n"))
		}
		zw.Write([]byte("]"))
		zw.Close()
		s.metaBody = buf.Bytes()
		s.metaETag = fmt.Sprintf("\"%x-%x\"", s.metaMod.Unix(), len(s.metaBody))
		s.metaDirty = false
	}
	return s.metaBody, s.metaETag, s.metaMod
}

func (s *Server) serveMeta(w http.ResponseWriter, r *http.Request) {
	body, etag, mod := s.metaDump()
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", mod.UTC().Format(http.TimeFormat))
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if inm == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Write(body)
}

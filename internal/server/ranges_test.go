package server

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestDegenerateRanges: ranges that select no byte are answered as RFC
// 9110 says, never with a 206 and an impossible Content-Range.
func TestDegenerateRanges(t *testing.T) {
	dir := t.TempDir()
	whole := bytes.Repeat([]byte("0123456789abcdef"), 51)[:807]
	must(t, os.WriteFile(filepath.Join(dir, "full-1-1-any.pkg.tar.zst"), whole, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "empty-1-1-any.pkg.tar.zst"), nil, 0o644))
	srv := startServer(t, Options{Repos: []Repository{{Name: "testrepo", Dir: dir}}})
	full := srv.URL + "/testrepo/full-1-1-any.pkg.tar.zst"
	resp, _ := get(t, full, nil)
	etag := resp.Header.Get("ETag")

	for _, c := range []struct {
		hdr          map[string]string
		status       int
		contentRange string
		body         []byte
	}{
		// Satisfiable by nothing: 416 with the size.
		{map[string]string{"Range": "bytes=-0"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=-00, -0"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=900-"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=807-"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=-0,900-"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		// Invalid (the last byte before the first, not a number).
		{map[string]string{"Range": "bytes=5-4"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=x-"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=--5"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		{map[string]string{"Range": "bytes=0-10,5-4"}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		// An unsatisfiable part of a set is left out.
		{map[string]string{"Range": "bytes=-0,10-19"}, http.StatusPartialContent, "bytes 10-19/807", whole[10:20]},
		{map[string]string{"Range": "bytes=10-19,-0"}, http.StatusPartialContent, "bytes 10-19/807", whole[10:20]},
		// The edges that do select bytes.
		{map[string]string{"Range": "bytes=806-"}, http.StatusPartialContent, "bytes 806-806/807", whole[806:]},
		{map[string]string{"Range": "bytes=-1"}, http.StatusPartialContent, "bytes 806-806/807", whole[806:]},
		{map[string]string{"Range": "bytes=-900"}, http.StatusPartialContent, "bytes 0-806/807", whole},
		{map[string]string{"Range": "bytes=800-900"}, http.StatusPartialContent, "bytes 800-806/807", whole[800:]},
		// A range that does not count (If-Range names another version)
		// gets the whole file, however degenerate.
		{map[string]string{"Range": "bytes=-0", "If-Range": `"other"`}, http.StatusOK, "", whole},
		{map[string]string{"Range": "bytes=-0", "If-Range": etag}, http.StatusRequestedRangeNotSatisfiable, "bytes */807", nil},
		// A condition that fails wins over the range.
		{map[string]string{"Range": "bytes=-0", "If-None-Match": etag}, http.StatusNotModified, "", nil},
	} {
		resp, body := get(t, full, c.hdr)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Range") != c.contentRange {
			t.Errorf("%v: %d, Content-Range %q; want %d, %q", c.hdr, resp.StatusCode, resp.Header.Get("Content-Range"), c.status, c.contentRange)
		}
		if c.body != nil && !bytes.Equal(body, c.body) {
			t.Errorf("%v: %d bytes, want %d", c.hdr, len(body), len(c.body))
		}
	}

	// An empty file has no satisfiable range: the range is ignored and the
	// (empty) file is sent whole.
	for _, rng := range []string{"bytes=-0", "bytes=-5", "bytes=0-", "bytes=0-0", "bytes=5-4", "bytes=-1,0-"} {
		resp, body := get(t, srv.URL+"/testrepo/empty-1-1-any.pkg.tar.zst", map[string]string{"Range": rng})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Range") != "" || len(body) != 0 {
			t.Errorf("empty file, Range %s: %d, Content-Range %q, %d bytes; want 200, none, 0", rng, resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
		}
	}
}

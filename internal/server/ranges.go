package server

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Range requests. pacman asks for one range, to resume a download. Go's
// http.ServeContent answers any number of ranges with a multipart body, so
// a request for a thousand one-byte ranges turns a small file into a reply
// a hundred times its size. Like nginx, which serves a multi-range request
// only when its ranges are sorted and do not overlap, the handler drops the
// Range header (and so answers the whole file, 200) when a request asks for
// more than maxRanges ranges, for overlapping or unsorted ranges, or for
// ranges so small that the multipart framing outweighs them.
//
// ServeContent also takes two degenerate ranges for satisfiable ones and
// answers 206 with an impossible Content-Range: a suffix of zero bytes
// ("bytes=-0" gives "bytes 807-806/807"), and any suffix of an empty file
// ("bytes 0--1/0"). RFC 9110 (14.1.1) counts a suffix range as satisfiable
// only with a non-zero length, and an empty file has no satisfiable range
// at all; so the handler drops zero-length suffixes from the set and
// ignores Range on an empty file (200, as ServeContent already does for
// its other ranges). A set that is invalid (a last byte before the first,
// as "bytes=5-4", or no number where one belongs) ServeContent answers 416
// without the Content-Range RFC 9110 (15.5.17) asks for; the handler turns
// such a set, and one left empty by the dropped suffixes, into a range
// that starts at the end of the file, which ServeContent answers as it
// does "bytes=900-" of 807 bytes: 416 with "Content-Range: bytes */807".
const (
	maxRanges = 16
	// minBytesPerRange: below this average, the part headers (about a
	// hundred bytes each) are most of the reply.
	minBytesPerRange = 1024
)

// span is a satisfiable byte range, [start, end).
type span struct{ start, end int64 }

// limitRanges rewrites or removes r's Range header as the package comment
// describes, before http.ServeContent reads it: ServeContent still decides
// whether the range counts at all (If-Range, the other conditions); size
// is the file's size.
func limitRanges(r *http.Request, size int64) {
	h := r.Header.Get("Range")
	if h == "" {
		return
	}
	if size == 0 {
		r.Header.Del("Range")
		return
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return // not bytes: ServeContent ignores it
	}
	var kept []string
	var spans []span
	var total int64
	dropped := false
	for p := range strings.SplitSeq(spec, ",") {
		p = textproto.TrimString(p)
		if p == "" {
			continue // as ServeContent does
		}
		s, valid, zeroSuffix := parseRangeSpec(p, size)
		switch {
		case !valid:
			r.Header.Set("Range", unsatisfiable(size))
			return
		case zeroSuffix:
			dropped = true
			continue
		}
		kept = append(kept, p)
		if s.start < s.end { // else after the end: ServeContent leaves it out
			spans = append(spans, s)
			total += s.end - s.start
		}
	}
	switch {
	case len(kept) == 0:
		r.Header.Set("Range", unsatisfiable(size))
		return
	case dropped:
		r.Header.Set("Range", "bytes="+strings.Join(kept, ","))
	}
	if len(kept) > maxRanges {
		r.Header.Del("Range")
		return
	}
	if len(spans) < 2 {
		return
	}
	// A range that starts before the previous one ends overlaps it or is
	// out of order.
	disordered := false
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			disordered = true
		}
	}
	if disordered || total < int64(len(spans))*minBytesPerRange {
		r.Header.Del("Range")
	}
}

// unsatisfiable is a Range value that ServeContent answers with 416 and
// "Content-Range: bytes */SIZE".
func unsatisfiable(size int64) string { return fmt.Sprintf("bytes=%d-", size) }

// parseRangeSpec reads one byte-range-spec p of a file of size bytes, by
// ServeContent's rules: valid tells whether it is well formed, zeroSuffix
// whether it asks for the last zero bytes, and s is the bytes it selects
// (empty when it starts at or after the end).
func parseRangeSpec(p string, size int64) (s span, valid, zeroSuffix bool) {
	first, last, ok := strings.Cut(p, "-")
	if !ok {
		return span{}, false, false
	}
	first, last = textproto.TrimString(first), textproto.TrimString(last)
	if first == "" { // suffix: the last N bytes
		if last == "" || last[0] == '-' {
			return span{}, false, false
		}
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return span{}, false, false
		}
		return span{max(size-n, 0), size}, true, n == 0
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return span{}, false, false
	}
	end := size
	if last != "" {
		e, err := strconv.ParseInt(last, 10, 64)
		if err != nil || e < start {
			return span{}, false, false
		}
		end = min(e+1, size)
	}
	return span{start, max(start, end)}, true, false
}

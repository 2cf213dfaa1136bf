package server

import (
	"net/http"
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
const (
	maxRanges = 16
	// minBytesPerRange: below this average, the part headers (about a
	// hundred bytes each) are most of the reply.
	minBytesPerRange = 1024
)

// limitRanges removes r's Range header when it asks for what the package
// comment describes; size is the file's size.
func limitRanges(r *http.Request, size int64) {
	h := r.Header.Get("Range")
	if h == "" {
		return
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return // not bytes: ServeContent ignores or refuses it
	}
	parts := strings.Split(spec, ",")
	if len(parts) == 1 {
		return
	}
	if len(parts) > maxRanges {
		r.Header.Del("Range")
		return
	}
	type span struct{ start, end int64 } // [start, end)
	var spans []span
	var total int64
	for _, p := range parts {
		first, last, ok := strings.Cut(strings.TrimSpace(p), "-")
		if !ok {
			return // malformed: ServeContent answers 416
		}
		var s span
		switch {
		case first == "": // suffix: the last N bytes
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil {
				return
			}
			s = span{max(size-n, 0), size}
		default:
			start, err := strconv.ParseInt(first, 10, 64)
			if err != nil {
				return
			}
			end := size
			if last != "" {
				e, err := strconv.ParseInt(last, 10, 64)
				if err != nil {
					return
				}
				end = min(e+1, size)
			}
			s = span{start, end}
		}
		if s.start >= s.end {
			continue // unsatisfiable: ServeContent leaves it out
		}
		spans = append(spans, s)
		total += s.end - s.start
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

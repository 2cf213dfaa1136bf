package server

import (
	"io"
	"net/http"
	"time"
)

// sendChunk is the most a slow client must accept within one write idle
// timeout. With the default timeout of one minute a client may read as
// slowly as about 4 KiB/s before it is cut off.
const sendChunk = 256 << 10

// trackedWriter counts the status and the bytes of a response for the
// access log and, when idle > 0, moves the connection's write deadline
// forward before every write. That is how big package downloads are
// protected against clients that stop reading, without a whole-response
// WriteTimeout that would cut a slow but progressing download.
type trackedWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	idle   time.Duration
	status int
	bytes  int64
}

func newTrackedWriter(w http.ResponseWriter, idle time.Duration) *trackedWriter {
	return &trackedWriter{ResponseWriter: w, rc: http.NewResponseController(w), idle: idle}
}

func (w *trackedWriter) extendDeadline() {
	if w.idle > 0 {
		// An error means the connection does not support deadlines
		// (e.g. httptest.ResponseRecorder); then there is nothing to do.
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	}
}

func (w *trackedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.extendDeadline()
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackedWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var total int
	for len(p) > 0 {
		w.extendDeadline()
		n := min(len(p), sendChunk)
		m, err := w.ResponseWriter.Write(p[:n])
		total += m
		w.bytes += int64(m)
		if err != nil {
			return total, err
		}
		p = p[n:]
	}
	return total, nil
}

// ReadFrom keeps the kernel's sendfile path of net/http (used by
// http.ServeContent through io.CopyN) while still moving the deadline:
// it copies in chunks of sendChunk, each an *io.LimitedReader directly over
// the source file, which is the shape net.TCPConn.ReadFrom recognises.
func (w *trackedWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	dst := io.Writer(w.ResponseWriter)
	if _, ok := dst.(io.ReaderFrom); !ok {
		dst = writerOnly{w}
	}
	inner, remaining := src, int64(-1)
	if lr, ok := src.(*io.LimitedReader); ok {
		inner, remaining = lr.R, lr.N
	}
	var total int64
	for remaining != 0 {
		want := int64(sendChunk)
		if remaining > 0 {
			want = min(want, remaining)
		}
		w.extendDeadline()
		n, err := io.Copy(dst, &io.LimitedReader{R: inner, N: want})
		total += n
		if _, viaSelf := dst.(writerOnly); !viaSelf {
			w.bytes += n
		}
		if remaining > 0 {
			remaining -= n
		}
		if err != nil {
			if lr, ok := src.(*io.LimitedReader); ok {
				lr.N = remaining
			}
			return total, err
		}
		if n < want {
			break // end of the source
		}
	}
	if lr, ok := src.(*io.LimitedReader); ok {
		lr.N = remaining
	}
	return total, nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *trackedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides ReadFrom so that io.Copy uses Write.
type writerOnly struct{ w *trackedWriter }

func (o writerOnly) Write(p []byte) (int, error) { return o.w.Write(p) }

package cli

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pacrepo/pacrepo/internal/ui"
)

// stdout is the command's standard output: buffered, so that a listing of
// thousands of lines costs a few writes, not one per line (and a reader
// such as `head -n 1` sees the output at once), and line-buffered on a
// terminal, where a person watches it appear.
//
// A reader that closes the pipe early (`pacrepo list | head -n 1`) ends the
// output, not the command: further output is dropped, and the command
// finishes its work and exits with its own code, quietly. Without this, Go
// kills the process with SIGPIPE at the first write, in the middle of
// whatever it was doing.
type stdout struct {
	file   *os.File
	buf    *bufio.Writer
	lines  bool // flush at every newline (a terminal)
	closed bool // the reader went away
}

func newStdout(f *os.File) *stdout {
	return &stdout{file: f, buf: bufio.NewWriterSize(f, 64<<10), lines: ui.IsTerminal(f)}
}

// ignoreSIGPIPE makes writes to a closed pipe fail with EPIPE instead of
// killing the process, so that stdout can treat them as the end.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }

func (w *stdout) Write(p []byte) (int, error) {
	if w.closed {
		return len(p), nil
	}
	if _, err := w.buf.Write(p); err != nil {
		return w.failed(len(p), err)
	}
	if w.lines && len(p) > 0 && p[len(p)-1] == '\n' {
		return len(p), w.Flush()
	}
	return len(p), nil
}

// Flush writes what is buffered; a closed pipe is the end of the output,
// not an error.
func (w *stdout) Flush() error {
	if w.closed {
		return nil
	}
	if err := w.buf.Flush(); err != nil {
		_, err := w.failed(0, err)
		return err
	}
	return nil
}

func (w *stdout) failed(n int, err error) (int, error) {
	if errors.Is(err, syscall.EPIPE) {
		w.closed = true
		return n, nil
	}
	return 0, err
}

// Fd lets the terminal checks (colour, width) see the file underneath.
func (w *stdout) Fd() uintptr { return w.file.Fd() }

// flushStdout flushes w when it buffers (before a question, a long wait,
// or the end).
func flushStdout(w io.Writer) error {
	if f, ok := w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// directStdout flushes standard output and returns the file underneath it,
// for a child process (an editor, pre_action and post_action) that writes
// there itself and may need a terminal.
func (g *Globals) directStdout() io.Writer {
	flushStdout(g.Stdout)
	if s, ok := g.Stdout.(*stdout); ok {
		return s.file
	}
	return g.Stdout
}

package cli

import (
	"bytes"
	"os"
	"testing"
)

// TestStdoutClosedPipe: a reader that closes the pipe early ends the
// output, not the command: writes and flushes report no error (the command
// then exits with its own code), and nothing more is written.
func TestStdoutClosedPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	out := newStdout(w)
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range 1024 { // 1 MiB: more than the buffer and the pipe hold
		if _, err := out.Write(line); err != nil {
			t.Fatalf("write to a closed pipe: %v", err)
		}
	}
	if err := out.Flush(); err != nil {
		t.Fatalf("flush to a closed pipe: %v", err)
	}
	if !out.closed {
		t.Fatal("the closed pipe went unnoticed")
	}
}

// TestStdoutBuffers: output reaches the file in large writes, all of it by
// the flush.
func TestStdoutBuffers(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	out := newStdout(f)
	for range 100 {
		out.Write([]byte("line\n"))
	}
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Fatalf("%d bytes written before the flush", fi.Size())
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Size() != 500 {
		t.Fatalf("%d bytes after the flush, want 500", fi.Size())
	}
}

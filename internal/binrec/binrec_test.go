package binrec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var w Writer
	w.Int(-5)
	w.String("héllo")
	w.Int(1 << 40)
	data := w.Seal("test-1\n")
	r, err := Open(data, "test-1\n")
	if err != nil {
		t.Fatal(err)
	}
	if a, s, b := r.Int(), r.String(), r.Int(); a != -5 || s != "héllo" || b != 1<<40 || r.Err() != nil {
		t.Fatalf("read %d %q %d %v", a, s, b, r.Err())
	}
	if _, err := Open(data, "test-2\n"); err == nil {
		t.Error("another magic opens")
	}
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	if _, err := Open(bad, "test-1\n"); err == nil {
		t.Error("a damaged body opens")
	}
	r, _ = Open(data, "test-1\n")
	r.Int()
	if r.Err() == nil {
		t.Error("bytes left unread are not an error")
	}
	var c Writer
	c.Int(1000) // a count of items that are not there
	r, _ = Open(c.Seal("m"), "m")
	if n := r.Count(1); n != 0 || r.Err() == nil {
		t.Errorf("count beyond the bytes left: %d %v", n, r.Err())
	}
}

func FuzzOpen(f *testing.F) {
	var w Writer
	w.Int(2)
	w.String("a")
	w.String("b")
	f.Add(w.Seal("m\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(data, "m\n")
		if err != nil {
			return
		}
		var got []string
		for range r.Count(1) {
			got = append(got, r.String())
		}
		if r.Err() == nil && len(got) > len(data) {
			t.Fatalf("%d strings from %d bytes", len(got), len(data))
		}
	})
}

func TestRawCopy(t *testing.T) {
	var w Writer
	w.String("keep")
	w.Int(7)
	w.String("change")
	data := w.Seal("m\n")
	r, _ := Open(data, "m\n")
	m := r.Mark()
	if b := r.Bytes(); string(b) != "keep" {
		t.Fatalf("Bytes read %q", b)
	}
	r.Int()
	kept := r.Since(m)
	if s := r.String(); s != "change" || r.Err() != nil {
		t.Fatalf("after the mark read %q, %v", s, r.Err())
	}
	var c Writer
	c.Raw(kept)
	c.String("changed")
	r, err := Open(c.Seal("m\n"), "m\n")
	if err != nil {
		t.Fatal(err)
	}
	if a, n, b := r.View(), r.Int(), r.String(); a != "keep" || n != 7 || b != "changed" || r.Err() != nil {
		t.Fatalf("copied record reads %q %d %q %v", a, n, b, r.Err())
	}
}

// A record streamed to a file is the one built in memory, byte for byte,
// whatever its size.
func TestFileWriterWritesWhatSealGives(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 100000} {
		put := func(w *Writer) {
			w.Int(int64(n))
			for i := range n {
				w.String(strings.Repeat("x", i%300))
				w.Int(int64(i))
			}
			w.Raw([]byte{2, 'o', 'k'})
			w.Raw(bytes.Repeat([]byte{0}, n*3)) // large: straight to the file
			w.Int(1)
		}
		var mem Writer
		put(&mem)
		want := mem.Seal("t\n")
		f, err := os.Create(filepath.Join(t.TempDir(), "r"))
		if err != nil {
			t.Fatal(err)
		}
		w := NewFileWriter(f, "t\n")
		put(w)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d items: the streamed record (%d bytes) differs from the sealed one (%d bytes)", n, len(got), len(want))
		}
	}
}

// A streaming writer reports the file's failure, naming it.
func TestFileWriterReportsFailure(t *testing.T) {
	f, err := os.Open(filepath.Join(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewFileWriter(f, "t\n")
	w.String("x")
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), f.Name()) {
		t.Fatalf("Close on an unwritable file: %v", err)
	}
}

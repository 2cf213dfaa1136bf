package binrec

import (
	"bytes"
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

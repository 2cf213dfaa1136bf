package freelist

import (
	"runtime"
	"testing"
)

func TestListKeepsValuesAcrossCollections(t *testing.T) {
	l := New[*[1 << 20]byte](2)
	a, b, c := new([1 << 20]byte), new([1 << 20]byte), new([1 << 20]byte)
	l.Put(a)
	l.Put(b)
	l.Put(c) // beyond the capacity: dropped
	runtime.GC()
	runtime.GC() // sync.Pool would be empty now
	got := map[*[1 << 20]byte]bool{}
	for {
		v, ok := l.Get()
		if !ok {
			break
		}
		got[v] = true
	}
	if len(got) != 2 || !got[a] || !got[b] {
		t.Fatalf("got %d values back (a %v, b %v), want a and b", len(got), got[a], got[b])
	}
}

func TestNewDefaultCapacity(t *testing.T) {
	l := New[int](0)
	if got, want := cap(l.idle), 2*runtime.GOMAXPROCS(0); got != want {
		t.Fatalf("capacity %d, want %d", got, want)
	}
}

package repodb

import "testing"

// BenchmarkWrite writes a db and a files database of 2,000 entries with
// about 50 files each, zstd-compressed, as a large repository would.
func BenchmarkWrite(b *testing.B) {
	entries := sampleEntries(2000, 48)
	loc := Location{Dir: b.TempDir(), Name: "bench", Ext: ".tar.zst"}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(loc, entries, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	entries := sampleEntries(2000, 48)
	loc := Location{Dir: b.TempDir(), Name: "bench", Ext: ".tar.zst"}
	if err := Write(loc, entries, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadLocation(loc, ReadOptions{Files: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteChanges registers one entry in a database of 10,000,
// alternately upgrading and downgrading it, as a build farm's change does;
// compare with BenchmarkWriteWhole10000, the same database written whole.
func BenchmarkWriteChanges(b *testing.B) {
	entries := sampleEntries(10000, 20)
	loc := Location{Dir: b.TempDir(), Name: "bench", Ext: ".tar.zst"}
	if err := Write(loc, entries, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	e := entries[5000]
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		e.Version = "1.0-" + itoa(1+i%2)
		if err := WriteChanges(loc, ReadIndex(loc), []Entry{e}, nil, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteWhole10000(b *testing.B) {
	entries := sampleEntries(10000, 20)
	loc := Location{Dir: b.TempDir(), Name: "bench", Ext: ".tar.zst"}
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(loc, entries, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadIndex reads the key fields of 10,000 entries from the
// index; compare with BenchmarkRead, which parses a database of 2,000.
func BenchmarkReadIndex(b *testing.B) {
	loc := Location{Dir: b.TempDir(), Name: "bench", Ext: ".tar.zst"}
	if err := Write(loc, sampleEntries(10000, 20), WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ix := ReadIndex(loc); ix == nil || ix.Len() != 10000 {
			b.Fatal("no index")
		}
	}
}

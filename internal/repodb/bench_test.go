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

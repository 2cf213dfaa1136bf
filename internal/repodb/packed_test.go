package repodb

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPackFilesRoundTrip(t *testing.T) {
	many := make([]string, 5000)
	for i := range many {
		many[i] = fmt.Sprintf("usr/share/pkg/dir-%03d/file-%05d.dat", i/100, i)
	}
	for _, files := range [][]string{{}, {"usr/"}, {"usr/", "usr/bin/", "usr/bin/x y", "usr/bin/\\303\\251"}, many} {
		e := Entry{Name: "p", Files: slices.Clone(files)}
		e.PackFiles()
		if e.Files != nil || !e.HasFileList() {
			t.Fatalf("%d paths: not packed", len(files))
		}
		if got := e.FileList(); !slices.Equal(got, files) || got == nil {
			t.Fatalf("%d paths: unpacked %q", len(files), got)
		}
	}
	e := Entry{Files: many}
	e.PackFiles()
	if len(e.packedFiles)*10 > len(many)*35 {
		t.Errorf("5000 paths packed into %d bytes: hardly compressed", len(e.packedFiles))
	}
}

// TestPackedEntriesWriteTheSame: databases of packed entries are the very
// bytes of those of the same entries unpacked.
func TestPackedEntriesWriteTheSame(t *testing.T) {
	plain := sampleEntries(300, 7)
	packed := slices.Clone(plain)
	for i := range packed {
		packed[i].PackFiles()
	}
	a := Location{Dir: t.TempDir(), Name: "t", Ext: ".tar.zst"}
	b := Location{Dir: t.TempDir(), Name: "t", Ext: ".tar.zst"}
	if err := Write(a, plain, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, packed, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{a.FilesFile(), a.DBFile()} {
		x, _ := os.ReadFile(filepath.Join(a.Dir, name))
		y, _ := os.ReadFile(filepath.Join(b.Dir, name))
		if !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s differs when the file lists are packed", name)
		}
	}
}

// TestPackFilesLeavesWhatTheWriterRefuses: a list the writer would refuse
// stays as it is, so that the write still refuses it (joining would turn a
// path with a newline into two good paths).
func TestPackFilesLeavesWhatTheWriterRefuses(t *testing.T) {
	for _, files := range [][]string{{"usr/", "a\nb"}, {""}, {"usr/", ""}} {
		e := Entry{Name: "p", Version: "1-1", Files: slices.Clone(files)}
		e.PackFiles()
		if !slices.Equal(e.Files, files) || e.packedFiles != nil {
			t.Errorf("%q packed", files)
		}
		if err := Write(Location{Dir: t.TempDir(), Name: "t", Ext: ".tar.zst"}, []Entry{e}, WriteOptions{}); err == nil {
			t.Errorf("%q written", files)
		}
	}
	var none Entry
	none.PackFiles()
	if none.HasFileList() || none.FileList() != nil {
		t.Error("an entry without a file list got one")
	}
}

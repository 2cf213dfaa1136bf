package repodb

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func FuzzParseDesc(f *testing.F) {
	f.Add([]byte(fooDesc))
	f.Add([]byte("%FILES%\nusr/\nusr/bin/x\n"))
	f.Add([]byte("%DEPENDS%\na\nb\n\n%NEW%\nx\n\n\n%PGPSIG%\nabc\n"))
	f.Add([]byte("%BUILDDATE%\nSat Jan  1 10:00:00 2005\n\n%NAME%\nx\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Entry
		if err := ParseDesc(bytes.NewReader(data), &e); err != nil {
			return
		}
		// What we write from a parsed entry must parse back to the same
		// desc: writing is idempotent.
		var first bytes.Buffer
		if err := WriteDesc(&first, &e, true); err != nil {
			return
		}
		var again Entry
		if err := ParseDesc(bytes.NewReader(first.Bytes()), &again); err != nil {
			t.Fatalf("our own desc does not parse: %v\n%q", err, first.String())
		}
		var second bytes.Buffer
		if err := WriteDesc(&second, &again, true); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("desc changed by a round trip:\n%q\n%q", first.String(), second.String())
		}
	})
}

func FuzzRead(f *testing.F) {
	for _, ext := range testExts {
		dir := f.TempDir()
		loc := Location{Dir: dir, Name: "f", Ext: ext}
		if err := Write(loc, sampleEntries(2, 2), WriteOptions{}); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(loc.FilesPath())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(makeTar(f, tarMember{"foo-1-1/desc", fooDesc}, tarMember{"foo-1-1/depends", "%DEPENDS%\nx\n"}))
	f.Add(make([]byte, 10240))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := readArchive(bufio.NewReader(bytes.NewReader(data)), ReadOptions{Files: true})
		if err != nil {
			if KindOf(err) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever reads cleanly must survive a write and read unchanged.
		for i := range entries {
			entries[i].MD5Sum = ""
			if entries[i].Files == nil {
				entries[i].Files = []string{}
			}
		}
		loc := Location{Dir: t.TempDir(), Name: "f", Ext: ".tar"}
		if err := Write(loc, entries, WriteOptions{PGPSig: true}); err != nil {
			return // e.g. an empty value in a list, which we drop
		}
		got, err := Read(filepath.Join(loc.Dir, loc.FilesFile()), ReadOptions{Files: true})
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(got) != len(entries) {
			t.Fatalf("re-read %d entries, wrote %d", len(got), len(entries))
		}
		for i := range got {
			var a, b bytes.Buffer
			WriteDesc(&a, &entries[i], true)
			WriteDesc(&b, &got[i], true)
			if !bytes.Equal(a.Bytes(), b.Bytes()) || !reflect.DeepEqual(sortedFiles(entries[i].Files), got[i].Files) {
				t.Fatalf("entry %s changed by a write and read", got[i].Name)
			}
		}
	})
}

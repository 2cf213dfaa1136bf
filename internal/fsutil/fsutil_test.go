package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/layout"
)

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	err := SyncDir(missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("SyncDir(%s) = %v, want an error naming the directory", missing, err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("a"), 0o644)
	os.WriteFile(b, []byte("b"), 0o644)
	if err := RenameNoReplace(a, b); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("rename over an existing file: %v", err)
	}
	if got, _ := os.ReadFile(b); string(got) != "b" {
		t.Fatal("the existing file was replaced")
	}
	if err := RenameNoReplace(a, filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
}

func TestCopyFileAndOpenRegular(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("content"), 0o644)
	sha, n, err := CopyFile(src, filepath.Join(dir, "dst"), 0o640)
	if err != nil || n != 7 || sha != "ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73" {
		t.Fatalf("CopyFile: %q %d %v", sha, n, err)
	}
	if _, _, err := CopyFile(src, filepath.Join(dir, "dst"), 0o640); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("CopyFile over an existing file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRegular(fifo); err == nil {
		t.Fatal("OpenRegular opened a FIFO")
	}
	if _, _, err := CopyFile(fifo, filepath.Join(dir, "x"), 0o644); err == nil {
		t.Fatal("CopyFile read a FIFO")
	}
}

func TestWriteFileAndTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Fatalf("got %q", got)
		}
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 1 {
		t.Fatalf("temporaries left: %v", des)
	}
	f, err := CreateTemp(dir, "final", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !(layout.Names{}).Leftover(filepath.Base(f.Name())) {
		t.Fatalf("%s is not recognised as a leftover temporary", f.Name())
	}
	link := filepath.Join(dir, "link")
	for _, target := range []string{"f", "other", "other"} {
		if err := ReplaceSymlink(link, target); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.Readlink(link); got != target {
			t.Fatalf("link -> %q, want %q", got, target)
		}
	}
}

func TestWriteNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sig")
	if err := WriteNew(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, []byte("two"), 0o644); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second WriteNew: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Fatalf("content %q: an existing file was replaced", data)
	}
}

package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWithin: a directory, what lies inside it (existing or not), and the
// same through a symbolic link are within it; a sibling, a parent and a
// missing directory are not.
func TestWithin(t *testing.T) {
	base := t.TempDir()
	inbox := filepath.Join(base, "inbox")
	other := filepath.Join(base, "other")
	for _, d := range []string{filepath.Join(inbox, "sub"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(filepath.Join("inbox", "sub"), link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{inbox, inbox, true},
		{filepath.Join(inbox, "sub"), inbox, true},
		{filepath.Join(inbox, "not-yet", "backup"), inbox, true},
		{link, inbox, true},
		{filepath.Join(link, "backup"), inbox, true},
		{filepath.Join(base, "other", "..", "inbox"), inbox, true},
		{other, inbox, false},
		{base, inbox, false},
		{filepath.Join(base, "missing"), inbox, false},
		{inbox, filepath.Join(base, "missing"), false},
	} {
		got, err := Within(c.path, c.dir)
		if err != nil || got != c.want {
			t.Errorf("Within(%s, %s) = %v, %v; want %v", c.path, c.dir, got, err, c.want)
		}
	}
}

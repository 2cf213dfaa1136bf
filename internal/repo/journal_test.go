package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestUnreadableJournal: a journal that cannot be parsed, or lacks the
// fields every journal has, can be neither finished nor rolled back. check
// says so (not "the next command finishes it"), every change refuses to
// start, and check --repair moves it aside to a file of its own, loses no
// package file, and lets changes run again.
func TestUnreadableJournal(t *testing.T) {
	for name, content := range map[string][]byte{
		"garbage":       {0x9f, 0x00, 0xff, 'x', 0x13, 0x37, '{', '\n'},
		"empty object":  []byte(`{}`),
		"no header":     []byte(`{"version":1,"unregister":["a"]}`),
		"other version": []byte(`{"version":7,"command":"add","pid":12,"started":"2026-01-02T03:04:05Z"}`),
	} {
		t.Run(name, func(t *testing.T) {
			r := newRepo(t)
			src := t.TempDir()
			mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
			// a file a crashed add may have placed, not registered
			mkpkg(t, r.dir(), "c", "1-1")
			if err := os.WriteFile(r.journalPath(), content, 0o644); err != nil {
				t.Fatal(err)
			}
			files := listing(t, r.dir())

			rep, err := r.Check(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			f := journalFinding(t, rep)
			if f.Repaired || !strings.Contains(f.Detail, "cannot be read") || strings.Contains(f.Detail, "finishes it") {
				t.Errorf("check: %+v, want the journal reported unreadable", f)
			}
			var bad *JournalUnreadableError
			if _, err := r.Update(ctx, nil, Request{}); !errors.As(err, &bad) || bad.Path != r.journalPath() {
				t.Errorf("update with an unreadable journal: %v, want a *JournalUnreadableError naming it", err)
			}

			rep, err = r.Check(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			f = journalFinding(t, rep)
			if !f.Repaired || !strings.Contains(f.Detail, "moved aside") {
				t.Errorf("check --repair: %+v, want the journal moved aside", f)
			}
			if _, err := os.Lstat(r.journalPath()); !os.IsNotExist(err) {
				t.Errorf("journal still there: %v", err)
			}
			aside, _ := filepath.Glob(r.journalPath() + ".unreadable-*")
			if len(aside) != 1 || !bytes.Equal(must(os.ReadFile(aside[0])), content) || !strings.Contains(f.Detail, filepath.Base(aside[0])) {
				t.Errorf("set aside as %v (finding %q), want one file holding the journal, named by the finding", aside, f.Detail)
			}
			after := listing(t, r.dir())
			for file, sum := range files {
				if strings.HasSuffix(file, ".pkg.tar.zst") && after[file] != sum {
					t.Errorf("check --repair lost or changed %s", file)
				}
			}

			if _, err := r.Update(ctx, nil, Request{}); err != nil {
				t.Fatalf("update after check --repair: %v", err)
			}
			if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "b": "1-1", "c": "1-1"}) {
				t.Errorf("registered %v", got)
			}
		})
	}
}

func journalFinding(t *testing.T, rep *Report) Finding {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Kind == FindJournal {
			return f
		}
	}
	t.Fatalf("no journal finding in %+v", rep.Findings)
	return Finding{}
}

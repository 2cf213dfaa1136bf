package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCachedOutput: a key run once is replayed, a changed input runs
// again, and PACREPO_TOOLS_CACHE=off runs every time.
func TestCachedOutput(t *testing.T) {
	t.Setenv("PACREPO_TOOLS_CACHE", t.TempDir())
	runs := 0
	get := func(doc string) string {
		key := NewOracleKey("test")
		key.Bytes("doc", []byte(doc))
		return string(CachedOutput(t, key, func() ([]byte, error) {
			runs++
			return []byte("out of " + doc), nil
		}))
	}
	for _, c := range []struct {
		doc, want string
		runs      int
	}{{"a", "out of a", 1}, {"a", "out of a", 1}, {"b", "out of b", 2}, {"a", "out of a", 2}} {
		if got := get(c.doc); got != c.want || runs != c.runs {
			t.Errorf("%s: %q after %d runs, want %q after %d", c.doc, got, runs, c.want, c.runs)
		}
	}
	t.Setenv("PACREPO_TOOLS_CACHE", "off")
	get("a")
	get("a")
	if runs != 4 {
		t.Errorf("with the cache off: %d runs, want 4", runs)
	}
}

// TestRepoAddReplayed: repo-add replayed from the cache leaves the same
// files, byte for byte, as the run it replays, and a package changed by
// one byte runs repo-add again.
func TestRepoAddReplayed(t *testing.T) {
	t.Setenv("PACREPO_TOOLS_CACHE", t.TempDir())
	specs := sampleSpecs()[:1]
	tree := func() map[string]string {
		dir := t.TempDir()
		var pkgs []string
		for _, s := range specs {
			pkgs = append(pkgs, MustMakePackage(t, dir, s))
		}
		RepoAdd(t, []string{"-q"}, filepath.Join(dir, "r.db.tar.gz"), pkgs...)
		out := map[string]string{}
		for _, pattern := range []string{"r.db*", "r.files*"} {
			m, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, p := range m {
				if target, err := os.Readlink(p); err == nil {
					out[filepath.Base(p)] = "-> " + target
					continue
				}
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				out[filepath.Base(p)] = string(data)
			}
		}
		return out
	}
	first, replayed := tree(), tree()
	if len(first) != 4 {
		t.Fatalf("repo-add left %d files, want r.db, r.files and their archives", len(first))
	}
	for name, data := range first {
		if replayed[name] != data {
			t.Errorf("%s differs when replayed", name)
		}
	}
	kept, _ := filepath.Glob(filepath.Join(ToolsCacheDir(), "oracles", "repo-add-*[0-9a-f]"))
	specs[0].Desc += "!"
	changed := tree()
	again, _ := filepath.Glob(filepath.Join(ToolsCacheDir(), "oracles", "repo-add-*[0-9a-f]"))
	if len(kept) != 1 || len(again) != 2 || bytes.Equal([]byte(changed["r.db.tar.gz"]), []byte(first["r.db.tar.gz"])) {
		t.Errorf("a changed package: %d runs kept before, %d after (want 1, 2)", len(kept), len(again))
	}
}

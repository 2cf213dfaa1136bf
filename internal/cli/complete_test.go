package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTestDB writes a minimal repo-add style database NAME.db.tar.gz with
// one desc per package, so that completion has something to read.
func writeTestDB(t *testing.T, path string, pkgs map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, ver := range pkgs {
		dir := name + "-" + ver + "/"
		desc := "%FILENAME%\n" + name + "-" + ver + "-x86_64.pkg.tar.zst\n\n%NAME%\n" + name + "\n\n%VERSION%\n" + ver + "\n\n%ARCH%\nx86_64\n\n"
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: dir + "desc", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(desc))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(desc)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// completeWith runs `pacrepo __complete args...` on a tree where the flag
// completions are registered, and returns the suggestions and stderr.
func completeWith(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &Globals{Stdout: &out, Stderr: &errOut}
	root := NewRootCommand(g)
	registerFlagCompletions(root, g)
	root.SetArgs(append([]string{"__complete"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The last line is cobra's directive (":4").
	return lines[:len(lines)-1], errOut.String()
}

func TestCompleteProfilesAndNames(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "cfg"))
	t.Setenv("XDG_CONFIG_DIRS", filepath.Join(dir, "sys"))
	t.Setenv("PACREPO_CONFIG", "")
	t.Setenv("REPOCTL_CONFIG", "")
	db := filepath.Join(dir, "repo", "main.db.tar.gz")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestDB(t, db, map[string]string{"alpha": "1-1", "alpine": "2-1", "beta": "1:3-2"})
	cfg := filepath.Join(dir, "cfg", "pacrepo", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "default_profile = \"main\"\n[profiles.main]\nrepo = \"" + db + "\"\n[profiles.broken]\nrepo = \"" + filepath.Join(dir, "none", "x.db.tar.gz") + "\"\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	got, stderr := completeWith(t, "-P", "")
	if strings.Join(got, ",") != "broken,main" {
		t.Errorf("profiles: %q (stderr %q)", got, stderr)
	}
	got, _ = completeWith(t, "--profile", "m")
	if strings.Join(got, ",") != "main" {
		t.Errorf("profiles m: %q", got)
	}
	got, _ = completeWith(t, "--color", "")
	if strings.Join(got, ",") != "auto,always,never" {
		t.Errorf("color: %q", got)
	}

	var out, errOut bytes.Buffer
	g := &Globals{Stdout: &out, Stderr: &errOut}
	complete := completeRegisteredNames(g)
	names, _ := complete(nil, nil, "alp")
	if strings.Join(names, ",") != "alpha,alpine" {
		t.Errorf("names alp: %q", names)
	}
	names, _ = complete(nil, []string{"alpha"}, "")
	if strings.Join(names, ",") != "alpine,beta" {
		t.Errorf("names without alpha: %q", names)
	}
	g.Profile = "broken"
	names, _ = complete(nil, nil, "")
	g.Profile = "nope"
	names2, _ := complete(nil, nil, "")
	if len(names) != 0 || len(names2) != 0 || out.Len() != 0 || errOut.Len() != 0 {
		t.Errorf("errors must complete nothing silently: %q %q out %q err %q", names, names2, out.String(), errOut.String())
	}
	g.Profile = ""
	g.Repo = db
	names, _ = complete(nil, nil, "b")
	if strings.Join(names, ",") != "beta" {
		t.Errorf("--repo names: %q", names)
	}

	exts, _ := completePackageFiles(nil, nil, "")
	if len(exts) == 0 || exts[1] != "pkg.tar.zst" {
		t.Errorf("package exts %q", exts)
	}
}

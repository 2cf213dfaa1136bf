package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestDebugRepoMakepkgPacman: add routes the debug package real makepkg
// made with its debug option to debug_repo, and real pacman reads both
// databases and downloads the debug package from its repository.
func TestDebugRepoMakepkgPacman(t *testing.T) {
	t.Parallel()
	pkg := testutil.ELFFixture(t, "dbg-1-1-x86_64.pkg.tar.zst")
	debugPkg := testutil.ELFFixture(t, "dbg-debug-1-1-x86_64.pkg.tar.zst")
	dir := t.TempDir()
	main, debug := filepath.Join(dir, "main"), filepath.Join(dir, "main-debug")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(`[profiles.main]
repo = "`+main+`/main.db.tar.zst"
debug_repo = "`+debug+`/main-debug.db.tar.zst"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--config", cfg, "add", pkg, debugPkg}, &stdout, &stderr); code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	pm := testutil.NewPacman(t, map[string]string{"main": main, "main-debug": debug})
	pm.MustRun("-Sy")
	if got := pm.Sync("main"); !reflect.DeepEqual(got, []string{"dbg 1-1"}) {
		t.Errorf("pacman -Sl main: %q", got)
	}
	if got := pm.Sync("main-debug"); !reflect.DeepEqual(got, []string{"dbg-debug 1-1"}) {
		t.Errorf("pacman -Sl main-debug: %q", got)
	}
	pm.MustRun("-Sw", "main-debug/dbg-debug")
}

package cli_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestObjectStorageDependencies: check --deps, rebuilds and installable
// through the pacrepo command on a bucket of a real S3-compatible server,
// over the C packages built by makepkg, as on a directory
// (testdata/script/deps.txtar): libfoo's soname goes from 1 to 2 under
// bar, which links against libfoo.so.1.
func TestObjectStorageDependencies(t *testing.T) {
	t.Parallel()
	b := newBucketCLI(t)
	libfoo1, bar := testutil.ELFFixture(t, "libfoo-1-1-x86_64.pkg.tar.zst"), testutil.ELFFixture(t, "bar-1-1-x86_64.pkg.tar.zst")
	libfoo2 := testutil.ELFFixture(t, "libfoo-2-1-x86_64.pkg.tar.zst")
	// exit runs pacrepo ARGS and returns its output and exit code.
	exit := func(args ...string) (string, int) {
		t.Helper()
		out, err := runPacrepo(context.Background(), b.pacrepo, b.env, args...)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out, 0
	}
	b.run(false, "add", libfoo1, bar)
	if out := b.run(false, "check", "--deps"); !strings.Contains(out, "external: bar needs libc.so.6") ||
		!strings.Contains(out, "checked the dependencies of 2 packages: 0 problems") {
		t.Fatalf("check --deps with libfoo 1:\n%s", out)
	}
	b.run(false, "add", libfoo2)
	out, code := exit("--repo", bucketAddr, "check", "--deps")
	if code != 5 || !strings.Contains(out, "library: bar 1-1 needs libfoo.so.1: no longer provided at that soname: only libfoo.so=2-64 by libfoo 2-1") {
		t.Fatalf("check --deps after the soname bump: exit %d\n%s", code, out)
	}
	if out := b.run(false, "rebuilds", "-q"); out != "bar 1-1\n" {
		t.Fatalf("rebuilds -q:\n%s", out)
	}
	if out := b.run(false, "rebuilds", "--json"); !strings.Contains(out, `"package": "bar"`) {
		t.Fatalf("rebuilds --json:\n%s", out)
	}
	// host serves the bucket's links database, as sogrep reads it.
	hostURL, _ := startHostProcess(t, b.pacrepo, b.env, bucketAddr, "farm")
	resp, err := http.Get(hostURL + "/farm.links.tar.zst")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET farm.links.tar.zst: %s %v", resp.Status, err)
	}
	path := filepath.Join(t.TempDir(), "farm.links.tar.zst")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if links, err := repodb.ReadLinks(path); err != nil || !slices.Equal(links["bar-1-1"], []string{"libc.so.6", "libfoo.so.1"}) || len(links) != 2 {
		t.Fatalf("the links database host serves: %v %v", links, err)
	}

	// installable = "refuse" on another repository of the bucket.
	config := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(config, []byte("[profiles.r]\nrepo = \"s3://farm/refuse/farm.db.tar.zst\"\ninstallable = \"refuse\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := exit("--config", config, "add", libfoo1, bar); code != 0 {
		t.Fatalf("add: exit %d\n%s", code, out)
	}
	out, code = exit("--config", config, "add", libfoo2)
	if code != 5 || !strings.Contains(out, `refusing a change that leaves 1 need unsatisfiable (installable = "refuse"): bar 1-1 needs libfoo.so.1`) {
		t.Fatalf("the soname bump under installable = refuse: exit %d\n%s", code, out)
	}
	if out, _ := exit("--config", config, "list", "-v"); !strings.Contains(out, "libfoo 1-1") {
		t.Fatalf("list after the refused change:\n%s", out)
	}
	// status does not judge, as in a directory: an upstream database that
	// is missing does not stop it from showing the upgrade an object
	// uploaded by other means would make.
	data, err := os.ReadFile(libfoo2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.server.Root, "farm", "refuse", filepath.Base(libfoo2)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("[profiles.r]\nrepo = \"s3://farm/refuse/farm.db.tar.zst\"\ninstallable = \"refuse\"\n"+
		"upstream = [\"nothere\"]\nsync_db_dir = \""+t.TempDir()+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := exit("--config", config, "status"); code != 0 || !strings.Contains(out, "libfoo") {
		t.Fatalf("status with installable and a missing upstream database: exit %d\n%s", code, out)
	}
	if out, code := exit("--config", config, "update"); code == 0 || !strings.Contains(out, "nothere.db") {
		t.Fatalf("update, which judges, with a missing upstream database: exit %d\n%s", code, out)
	}
}

package cli_test

import (
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestObjectStorageSnapshots: snapshot create, list, show and delete
// through the pacrepo command on a bucket, as on a directory
// (testdata/script/snapshot.txtar), and host serves it to real pacman.
func TestObjectStorageSnapshots(t *testing.T) {
	t.Parallel()
	b := newBucketCLI(t)
	pacrepo, env, pkg, run := b.pacrepo, b.env, b.pkg, b.run
	run(false, "add", pkg("bar", "1.0-1"))
	if out := run(false, "snapshot", "create", "tested"); out != "snapshot tested of farm: generation 1\n" {
		t.Errorf("create:\n%s", out)
	}
	run(true, "snapshot", "create", "tested")
	run(false, "add", pkg("bar", "2.0-1"))
	if out := run(false, "snapshot", "list"); !strings.HasPrefix(out, "tested  generation 1  ") {
		t.Errorf("list:\n%s", out)
	}
	if out := run(false, "snapshot", "show", "tested"); !strings.Contains(out, "\nbar 1.0-1\n") {
		t.Errorf("show:\n%s", out)
	}
	if out := run(false, "snapshot", "show", "--json", "tested"); !strings.Contains(out, `"file": "bar-1.0-1-x86_64.pkg.tar.zst"`) {
		t.Errorf("show --json:\n%s", out)
	}
	// pacman pinned to the snapshot through host sees its versions, the
	// repository the new ones.
	hostURL, _ := startHostProcess(t, pacrepo, env, "s3://farm/x86_64/farm.db.tar.zst", "farm")
	pinned := testutil.NewPacman(t, map[string]string{"farm": hostURL + "/snapshots/tested"})
	current := testutil.NewPacman(t, map[string]string{"farm": hostURL})
	pinned.MustRun("-Sy")
	pinned.MustRun("-Sw", "bar")
	current.MustRun("-Sy")
	current.MustRun("-Sw", "bar")
	if got := strings.Join(pinned.Sync("farm"), ","); got != "bar 1.0-1" {
		t.Errorf("pacman pinned to the snapshot sees %s", got)
	}
	if got := strings.Join(current.Sync("farm"), ","); got != "bar 2.0-1" {
		t.Errorf("pacman sees %s", got)
	}
	run(false, "snapshot", "delete", "tested")
	if out := run(true, "snapshot", "show", "tested"); !strings.Contains(out, `no snapshot "tested"`) {
		t.Errorf("show after delete:\n%s", out)
	}
}

package repo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestRollbackWithPacman: bar 2 installed by real pacman; rollback to the
// generation holding bar 1 brings bar 1 back from the backup directory,
// and pacman -Syuu installs it.
func TestRollbackWithPacman(t *testing.T) {
	t.Parallel()
	r := withOpts(newRepo(t), func(o *Options) { o.BackupDir = filepath.Join(t.TempDir(), "backup") })
	pm := testutil.NewPacman(t, map[string]string{"test": r.dir()})
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "bar", "1.0-1"), mkpkg(t, src, "foo", "1.0-1"))
	mustAdd(t, r, mkpkg(t, src, "bar", "2.0-1"))
	pm.MustRun("-Syy")
	pm.MustRun("-S", "bar")
	if out := pm.MustRun("-Q", "bar"); !strings.Contains(out, "bar 2.0-1") {
		t.Fatalf("installed: %s", out)
	}
	mustAdd(t, r, mkpkg(t, src, "baz", "1.0-1")) // generation 3

	// A dry run shows the plan and changes nothing.
	res, err := r.Rollback(ctx, 1, Request{DryRun: true})
	if err != nil || res.Applied {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if got := short(res.Plan); len(got) != 5 || !strings.HasPrefix(got[0], "place bar ") {
		t.Fatalf("dry run plan %v", got)
	}
	assertHistory(t, r, 1, 3)

	res, err = r.Rollback(ctx, 1, Request{})
	if err != nil || !res.Applied {
		t.Fatalf("rollback: %+v, %v", res, err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"bar": "1.0-1", "foo": "1.0-1"}) {
		t.Fatalf("registered after rollback: %v", got)
	}
	recs := assertHistory(t, r, 1, 4)
	if rb := recs[3]; rb.Command != "rollback 1" || len(rb.Registered) != 1 || rb.Registered[0].From != "2.0-1" || len(rb.Unregistered) != 1 {
		t.Errorf("rollback's record: %+v", rb)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	// bar 2 went to the backup directory: rolling forward again works.
	if _, err := os.Stat(filepath.Join(r.opts.BackupDir, "bar-2.0-1-x86_64.pkg.tar.zst")); err != nil {
		t.Errorf("bar 2 after rollback: %v", err)
	}
	// -yy: the database may be written within the second pacman synced
	// it last, which its file:// timestamp check cannot tell apart.
	pm.MustRun("-Syyuu")
	if out := pm.MustRun("-Q", "bar"); !strings.Contains(out, "bar 1.0-1") {
		t.Fatalf("after rollback, pacman -Syuu left %s", out)
	}
	if _, err := r.Rollback(ctx, 3, Request{}); err != nil {
		t.Fatalf("roll forward again: %v", err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"bar": "2.0-1", "foo": "1.0-1", "baz": "1.0-1"}) {
		t.Fatalf("registered after rolling forward: %v", got)
	}
}

// TestRollbackRefusesMissingFiles: a file the generation needs that is
// gone everywhere is named, and nothing changes; a file kept in place is
// registered again where it is.
func TestRollbackRefusesMissingFiles(t *testing.T) {
	t.Parallel()
	r := withOpts(newRepo(t), func(o *Options) { o.RetireInPlace = true })
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "bar", "1.0-1"))                                // 1
	mustAdd(t, r, mkpkg(t, src, "foo", "1.0-1"))                                // 2
	mustAdd(t, r, mkpkg(t, src, "bar", "2.0-1"), mkpkg(t, src, "foo", "2.0-1")) // 3
	if err := os.Remove(filepath.Join(r.dir(), "foo-1.0-1-x86_64.pkg.tar.zst")); err != nil {
		t.Fatal(err)
	}
	_, err := r.Rollback(ctx, 2, Request{})
	var me *MissingFilesError
	if !errors.As(err, &me) || !reflect.DeepEqual(me.Files, []string{"foo-1.0-1-x86_64.pkg.tar.zst"}) {
		t.Fatalf("rollback with a file gone: %v", err)
	}
	assertHistory(t, r, 1, 3)
	if got := registered(t, r); got["bar"] != "2.0-1" || got["foo"] != "2.0-1" {
		t.Fatalf("a refused rollback changed the repository: %v", got)
	}
	if _, err := r.Rollback(ctx, 1, Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"bar": "1.0-1"}) {
		t.Fatalf("registered %v", got)
	}
	assertHistory(t, r, 1, 4)
	assertInvariant1(t, r)
	assertClean(t, r)
}

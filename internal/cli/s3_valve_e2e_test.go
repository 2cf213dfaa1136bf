package cli_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// TestObjectStorageSafetyValve: the safety valve guards a bucket as it
// guards a directory: status shows, with a warning, the plan update
// refuses when most packages' objects are gone; update needs --force,
// and so does remove.
func TestObjectStorageSafetyValve(t *testing.T) {
	srv := testutil.StartS3(t, "farm")
	pacrepo := pacrepoCommand(t)
	env := append(isolatedEnv(t), srv.Env()...)
	url := "s3://farm/farm.db.tar.zst"
	run := func(args ...string) (string, error) {
		t.Helper()
		return runPacrepo(context.Background(), pacrepo, env, append([]string{"--repo", url}, args...)...)
	}
	src := t.TempDir()
	var files []string
	for i := range 12 {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: fmt.Sprintf("p%02d", i), Version: "1.0-1", NumFiles: 1})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if out, err := run(append([]string{"add"}, files...)...); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	srv.SetEnv(t)
	bucket, err := objstore.Open(context.Background(), objstore.Config{Bucket: "farm", Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files[:7] {
		if err := bucket.Delete(context.Background(), filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run("status"); err != nil || !strings.Contains(out, "update would refuse this") || !strings.Contains(out, "p00") {
		t.Fatalf("status with 7 of 12 objects gone: %v\n%s", err, out)
	}
	if out, err := run("update"); err == nil || !strings.Contains(out, "without --force") {
		t.Fatalf("update with 7 of 12 objects gone: %v\n%s", err, out)
	}
	if out, err := run("update", "--force"); err != nil {
		t.Fatalf("update --force: %v\n%s", err, out)
	}
	if out, err := run("remove", "--force", "p07"); err != nil {
		t.Fatalf("remove --force: %v\n%s", err, out)
	}
	if out, err := run("list"); err != nil || len(strings.Fields(out)) != 4 {
		t.Fatalf("list: %v\n%s", err, out)
	}
}

package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// TestObjectStorageDebugRepo: debug_repo routes debug packages in and out
// of object storage as between directories (testdata/script/debug_repo.txtar):
// add to a bucket sends foo-debug to its debug repository, a bucket or a
// directory, and to a directory's debug repository in a bucket; promote
// from bucket to bucket moves foo-debug along with foo; the bucket's next
// change finishes an interrupted promotion from its debug repository; a
// refusal of the debug repository adds nothing to the bucket.
func TestObjectStorageDebugRepo(t *testing.T) {
	t.Parallel()
	b := newBucketCLI(t)
	work := t.TempDir()
	config := filepath.Join(work, "config.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`[profiles.staging]
repo = "s3://farm/staging/staging.db.tar.zst"
debug_repo = "staging-debug"
[profiles.staging-debug]
repo = "s3://farm/staging-debug/staging-debug.db.tar.zst"
[profiles.testing]
repo = "s3://farm/testing/testing.db.tar.zst"
debug_repo = "s3://farm/testing-debug/testing-debug.db.tar.zst"
[profiles.mixed]
repo = "s3://farm/mixed/mixed.db.tar.zst"
debug_repo = %[1]q
[profiles.local]
repo = %[2]q
debug_repo = "s3://farm/local-debug/local-debug.db.tar.zst"
[profiles.strict]
repo = "s3://farm/strict/strict.db.tar.zst"
debug_repo = "strict-debug"
[profiles.strict-debug]
repo = %[3]q
require_signature = true
`, filepath.Join(work, "mixed-debug", "mixed-debug.db.tar.zst"), filepath.Join(work, "local", "local.db.tar.zst"),
		filepath.Join(work, "strict-debug", "strict-debug.db.tar.zst"))), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(slices.Clone(b.env), "PACREPO_CONFIG="+config)
	run := func(wantErr bool, args ...string) string {
		t.Helper()
		out, err := runPacrepo(context.Background(), b.pacrepo, env, args...)
		if (err != nil) != wantErr {
			t.Fatalf("pacrepo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	list := func(repo string) string {
		t.Helper()
		return run(false, "--repo", repo, "list", "-v")
	}
	foo := b.pkg("foo", "1.0-1")
	fooDebug, err := pkggen.MakePackage(b.src, pkggen.Spec{Name: "foo-debug", Base: "foo", Version: "1.0-1",
		Desc: "Detached debugging symbols for foo", NumFiles: 1, FileSize: 100})
	if err != nil {
		t.Fatal(err)
	}

	// bucket -> bucket
	if out := run(false, "-P", "staging", "add", foo, fooDebug); !strings.Contains(out, "debug packages, to staging-debug:\n") {
		t.Errorf("add:\n%s", out)
	}
	if got := list("s3://farm/staging/staging.db.tar.zst"); got != "foo 1.0-1\n" {
		t.Errorf("staging lists:\n%s", got)
	}
	if got := list("s3://farm/staging-debug/staging-debug.db.tar.zst"); got != "foo-debug 1.0-1\n" {
		t.Errorf("staging-debug lists:\n%s", got)
	}
	if out := run(false, "-P", "staging", "promote", "--to", "testing", "foo"); out != "promote foo 1.0-1 -> testing\npromote foo-debug 1.0-1 -> testing-debug\n" {
		t.Errorf("promote:\n%s", out)
	}
	if got := list("s3://farm/testing-debug/testing-debug.db.tar.zst"); got != "foo-debug 1.0-1\n" {
		t.Errorf("testing-debug lists:\n%s", got)
	}
	if got := list("s3://farm/staging-debug/staging-debug.db.tar.zst"); got != "" {
		t.Errorf("staging-debug still lists:\n%s", got)
	}

	// An interrupted promotion from the bucket's debug repository (its
	// intent left under its prefix) is finished by the bucket's next change.
	stableDebug := filepath.Join(work, "stable-debug", "stable-debug.db.tar.zst")
	if err := os.MkdirAll(filepath.Dir(stableDebug), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fooDebug)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	file := filepath.Base(fooDebug)
	intent := fmt.Sprintf(`{"version": 1, "target": %q, "files": [{"name": "foo-debug", "version": "1.0-1", "file": %q, "sha256": %q, "source": "s3://farm/testing-debug/%s"}]}`,
		stableDebug, file, hex.EncodeToString(sum[:]), file)
	// Written as the server keeps objects: a file under its root.
	if err := os.WriteFile(filepath.Join(b.server.Root, "farm", "testing-debug", ".pacrepo", "testing-debug", "promotion.json"), []byte(intent), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(false, "-P", "testing", "remove", "foo"); !strings.Contains(out, "pacrepo: finished an interrupted promotion to "+stableDebug+"\n") {
		t.Errorf("the next change of the bucket:\n%s", out)
	}
	if got := list(stableDebug); got != "foo-debug 1.0-1\n" {
		t.Errorf("the interrupted promotion's target lists:\n%s", got)
	}
	if got := list("s3://farm/testing-debug/testing-debug.db.tar.zst"); got != "" {
		t.Errorf("testing-debug still lists:\n%s", got)
	}

	// a bucket's debug repository in a directory, a directory's in a bucket
	run(false, "-P", "mixed", "add", foo, fooDebug)
	if got := list(filepath.Join(work, "mixed-debug", "mixed-debug.db.tar.zst")); got != "foo-debug 1.0-1\n" {
		t.Errorf("the directory debug repository lists:\n%s", got)
	}
	if got := list("s3://farm/mixed/mixed.db.tar.zst"); got != "foo 1.0-1\n" {
		t.Errorf("mixed lists:\n%s", got)
	}
	run(false, "-P", "local", "add", foo, fooDebug)
	if got := list("s3://farm/local-debug/local-debug.db.tar.zst"); got != "foo-debug 1.0-1\n" {
		t.Errorf("the bucket debug repository lists:\n%s", got)
	}
	if got := list(filepath.Join(work, "local", "local.db.tar.zst")); got != "foo 1.0-1\n" {
		t.Errorf("local lists:\n%s", got)
	}

	// The debug repository refuses the unsigned foo-debug: nothing is added.
	if out := run(true, "-P", "strict", "add", foo, fooDebug); !strings.Contains(out, "foo-debug-1.0-1-x86_64.pkg.tar.zst") {
		t.Errorf("add refused by the debug repository:\n%s", out)
	}
	if out, err := runPacrepo(context.Background(), b.pacrepo, env, "-P", "strict", "list", "-v"); err == nil && out != "" {
		t.Errorf("the refused add added to the bucket:\n%s", out)
	}
}

package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestObjectStoragePromotion: promote --to s3://... from a directory, and
// from the bucket to a directory, as between directories
// (testdata/script/promote.txtar); an interrupted promotion of the bucket
// is reported by check, finished by check --repair and by the bucket's
// next change.
func TestObjectStoragePromotion(t *testing.T) {
	t.Parallel()
	b := newBucketCLI(t)
	work := t.TempDir()
	staging := filepath.Join(work, "staging", "staging.db.tar.zst")
	stable := filepath.Join(work, "stable", "stable.db.tar.zst")
	for _, db := range []string{staging, stable} {
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runAt := func(wantErr bool, repo string, args ...string) string {
		t.Helper()
		out, err := runPacrepo(context.Background(), b.pacrepo, b.env, append([]string{"--repo", repo}, args...)...)
		if (err != nil) != wantErr {
			t.Fatalf("pacrepo --repo %s %s: %v\n%s", repo, strings.Join(args, " "), err, out)
		}
		return out
	}
	runAt(false, staging, "add", b.pkg("foo", "1.0-1"), b.pkg("bar", "1.0-1"))

	// directory -> bucket
	if out := runAt(false, staging, "promote", "--to", bucketAddr, "foo", "-n"); out != "would promote foo 1.0-1 -> farm\n" {
		t.Errorf("promote -n:\n%s", out)
	}
	// --s3-endpoint reaches a target no profile names.
	var noEndpoint []string
	for _, kv := range b.env {
		if !strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") {
			noEndpoint = append(noEndpoint, kv)
		}
	}
	out, err := runPacrepo(context.Background(), b.pacrepo, noEndpoint, "--repo", staging, "--s3-endpoint", b.server.Endpoint, "promote", "--to", bucketAddr, "foo")
	if err != nil || out != "promote foo 1.0-1 -> farm\n" {
		t.Errorf("promote: %v\n%s", err, out)
	}
	if out := b.run(false, "list", "-v"); out != "foo 1.0-1\n" {
		t.Errorf("the bucket lists:\n%s", out)
	}
	if out := runAt(false, staging, "list", "-v"); out != "bar 1.0-1\n" {
		t.Errorf("the directory lists:\n%s", out)
	}

	// bucket -> directory
	out = b.run(false, "promote", "--to", stable, "--all", "--json")
	if !strings.Contains(out, `"source": "`+bucketAddr+`"`) || !strings.Contains(out, `"name": "foo"`) {
		t.Errorf("promote --json:\n%s", out)
	}
	if out := runAt(false, stable, "list", "-v"); out != "foo 1.0-1\n" {
		t.Errorf("the directory lists:\n%s", out)
	}
	if out := b.run(false, "list", "-v"); out != "" {
		t.Errorf("the bucket still lists:\n%s", out)
	}

	// a newer version in the bucket is refused: nothing changes
	b.run(false, "add", b.pkg("foo", "2.0-1"))
	if out := runAt(true, stable, "promote", "--to", bucketAddr, "foo"); !strings.Contains(out, "the target has foo 2.0-1, newer than 1.0-1 (nothing changed)") {
		t.Errorf("promote under a newer version:\n%s", out)
	}
	if out := runAt(false, stable, "list", "-v"); out != "foo 1.0-1\n" {
		t.Errorf("the refused promotion changed the source:\n%s", out)
	}

	// An interrupted promotion of the bucket (its intent left under its
	// prefix) is reported by check, finished by check --repair, and by
	// the next change of the bucket.
	interrupt := func(name string) {
		t.Helper()
		pkg := b.pkg(name, "1.0-1")
		b.run(false, "add", pkg)
		data, err := os.ReadFile(pkg)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		file := filepath.Base(pkg)
		intent := fmt.Sprintf(`{"version": 1, "target": %q, "files": [{"name": %q, "version": "1.0-1", "file": %q, "sha256": %q, "source": "s3://farm/x86_64/%s"}]}`,
			staging, name, file, hex.EncodeToString(sum[:]), file)
		// Written as the server keeps objects: a file under its root.
		if err := os.WriteFile(filepath.Join(b.server.Root, "farm", "x86_64", ".pacrepo", "farm", "promotion.json"), []byte(intent), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	interrupt("baz")
	if out := b.run(true, "check"); !strings.Contains(out, "promotion: "+staging+": an interrupted promotion to it is pending\n") {
		t.Errorf("check:\n%s", out)
	}
	if out := b.run(false, "check", "--repair"); !strings.Contains(out, "promotion: "+staging+": an interrupted promotion to it is pending [repaired]\n") {
		t.Errorf("check --repair:\n%s", out)
	}
	if out := runAt(false, staging, "list", "-v"); out != "bar 1.0-1\nbaz 1.0-1\n" {
		t.Errorf("the interrupted promotion's target lists:\n%s", out)
	}
	interrupt("qux")
	if out := b.run(false, "remove", "foo"); !strings.Contains(out, "pacrepo: finished an interrupted promotion to "+staging+"\n") {
		t.Errorf("the next change:\n%s", out)
	}
	if out := b.run(false, "list", "-v"); out != "" {
		t.Errorf("the bucket still lists:\n%s", out)
	}
	if out := runAt(false, staging, "list", "-v"); out != "bar 1.0-1\nbaz 1.0-1\nqux 1.0-1\n" {
		t.Errorf("the interrupted promotion's target lists:\n%s", out)
	}
	b.run(false, "check")
}

// TestObjectStoragePromotionIncludeSigs: a promotion's target adds as a
// plain add into it does: a bucket, then a directory, whose add_params ask
// --include-sigs embed the promoted package's signature (%PGPSIG%), the
// very entry a plain add of the file writes.
func TestObjectStoragePromotionIncludeSigs(t *testing.T) {
	t.Parallel()
	b := newBucketCLI(t)
	work := t.TempDir()
	staging := filepath.Join(work, "staging", "staging.db.tar.zst")
	mirror := filepath.Join(work, "mirror", "mirror.db.tar.zst")
	for _, db := range []string{staging, mirror} {
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(work, "config.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`[profiles.staging]
repo = %q

[profiles.farm]
repo = %q
add_params = ["--include-sigs"]

[profiles.mirror]
repo = %q
add_params = ["--include-sigs"]
`, staging, bucketAddr, mirror)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(slices.Clone(b.env), "PACREPO_CONFIG="+config)
	run := func(args ...string) {
		t.Helper()
		if out, err := runPacrepo(context.Background(), b.pacrepo, env, args...); err != nil {
			t.Fatalf("pacrepo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	foo := b.pkg("foo", "1.0-1")
	testutil.NewPGPKey(t, "packager").SignFile(t, foo)
	// The entry a plain add of foo with --include-sigs writes.
	plain := filepath.Join(work, "plain", "plain.db.tar.zst")
	run("--repo", plain, "add", "--include-sigs", foo)
	want := entryOf(t, plain, "foo")
	if want.PGPSig == "" {
		t.Fatal("a plain add --include-sigs embedded no signature")
	}
	run("-P", "staging", "add", foo)

	run("-P", "staging", "promote", "--to", "farm", "foo")
	// The names pacman reads, as the server keeps them: files under its root.
	if got := entryOf(t, filepath.Join(b.server.Root, "farm", "x86_64", "farm.db.tar.zst"), "foo"); !reflect.DeepEqual(got, want) {
		t.Errorf("promoted to the bucket:\n%+v\nwant, as a plain add writes it:\n%+v", got, want)
	}
	run("-P", "farm", "promote", "--to", "mirror", "foo")
	if got := entryOf(t, mirror, "foo"); !reflect.DeepEqual(got, want) {
		t.Errorf("promoted from the bucket to a directory:\n%+v\nwant, as a plain add writes it:\n%+v", got, want)
	}
}

// entryOf is the entry of name in the database at db.
func entryOf(t *testing.T, db, name string) repodb.Entry {
	t.Helper()
	es, err := repodb.Read(db, repodb.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("%s registers no %s", db, name)
	return repodb.Entry{}
}

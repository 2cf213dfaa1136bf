package cli_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestObjectStorageHistory: log, diff and rollback through the pacrepo
// command on a bucket of a real S3-compatible server, as on a directory
// (testdata/script/history.txtar).
func TestObjectStorageHistory(t *testing.T) {
	t.Parallel()
	b := newBucketCLI(t)
	pkg := b.pkg
	run := func(args ...string) string { t.Helper(); return b.run(false, args...) }
	run("add", pkg("bar", "1.0-1"), pkg("foo", "1.0-1"))
	run("add", pkg("bar", "2.0-1"))
	out := run("log")
	for _, want := range []string{`(?s)generation 2 .*generation 1 `, `(?m)^    upgrade bar 1.0-1 -> 2.0-1$`,
		`(?m)^    retire bar-1.0-1-x86_64.pkg.tar.zst: kept$`, `pacrepo --repo s3://farm/x86_64/farm.db.tar.zst add \S+/bar-2.0-1`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if out := run("log", "foo"); strings.Contains(out, "generation 2") || !strings.Contains(out, "generation 1") {
		t.Errorf("log foo:\n%s", out)
	}
	if out := run("diff", "1"); !strings.Contains(out, "~ bar 1.0-1 -> 2.0-1") {
		t.Errorf("diff 1:\n%s", out)
	}
	if out := run("rollback", "-n", "1"); !strings.Contains(out, "would downgrade bar 2.0-1 -> 1.0-1 (generation 1)") {
		t.Errorf("rollback -n 1:\n%s", out)
	}
	run("rollback", "1")
	if out := run("list", "-v"); out != "bar 1.0-1\nfoo 1.0-1\n" {
		t.Errorf("list after rollback:\n%s", out)
	}
	if out := run("log", "--json"); !strings.Contains(out, `"command": "pacrepo --repo s3://farm/x86_64/farm.db.tar.zst rollback 1"`) {
		t.Errorf("log --json after rollback:\n%s", out)
	}
	if out := run("diff", "1"); !strings.Contains(out, "0 added, 0 removed, 0 changed") {
		t.Errorf("diff 1 after rollback:\n%s", out)
	}
}

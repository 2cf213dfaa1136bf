package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// TestExitCodeEINVAL: an I/O failure whose text is the kernel's EINVAL
// ("invalid argument") is a failure, exit 1, not a usage error.
func TestExitCodeEINVAL(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("write r.db.tar.zst: %w", syscall.EINVAL),
		&fs.PathError{Op: "fsync", Path: "r.db.tar.zst", Err: syscall.EINVAL},
	} {
		if !strings.Contains(err.Error(), "invalid argument") {
			t.Fatalf("%v: the test wants the kernel's text", err)
		}
		if code := exitCode(err); code != ExitFailure {
			t.Errorf("%v: exit code %d, want %d", err, code, ExitFailure)
		}
	}
}

// TestExitCodeUsage: every kind of wrong flag or argument, cobra's own
// included, exits 2, and says what is wrong.
func TestExitCodeUsage(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("PACREPO_CONFIG", "")
	t.Setenv("REPOCTL_CONFIG", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuchcommand"}, "unknown command"},
		{[]string{"--repo", "x.db.tar.zst", "nosuchcommand"}, "unknown command"},
		{[]string{"--nosuchflag"}, "unknown flag"},
		{[]string{"list", "-Z"}, "unknown shorthand flag"},
		{[]string{"host", "--write-timeout", "soon"}, "invalid argument"},
		{[]string{"vercmp", "1"}, "accepts 2 arg"},
		{[]string{"add"}, "pacrepo add: missing arguments; usage: pacrepo add"},
		{[]string{"check", "extra"}, `unknown command "extra"`},
		{[]string{"conf", "new", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"add", "--move", "--link", "x.pkg.tar.zst"}, "if any flags in the group"},
		{[]string{"conf", "nosuch"}, "unknown command"},
		{[]string{"help", "nosuch"}, "unknown command"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), c.args, io.Discard, &stderr)
		if code != ExitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("pacrepo %s: exit %d, stderr %q; want exit %d and %q",
				strings.Join(c.args, " "), code, stderr.String(), ExitUsage, c.want)
		}
	}
}

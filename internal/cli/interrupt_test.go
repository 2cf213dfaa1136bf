package cli_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/pacrepo/pacrepo/internal/cli"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestInterrupt: SIGINT cancels the command's one context. A command
// waiting for the lock stops at once with exit 130 and changes nothing; one
// interrupted at a random moment leaves the repository as it was before or
// after, and check finds nothing to repair.
func TestInterrupt(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	pacrepo := pacrepoCommand(t)
	env := isolatedEnv(t)
	for _, op := range []string{"add", "update", "reset"} {
		t.Run("waiting/"+op, func(t *testing.T) {
			dir, db, args := interruptRepo(t, pacrepo, env, op, 3)
			before := dirState(t, dir)
			fl := flock.New(filepath.Join(dir, ".r.pacrepo.lock"))
			if err := fl.Lock(); err != nil {
				t.Fatal(err)
			}
			defer fl.Unlock()
			cmd := exec.Command(pacrepo, append([]string{"--repo", db}, args...)...)
			cmd.Env = env
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stderr)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if strings.Contains(sc.Text(), "waiting for the lock") {
					cmd.Process.Signal(os.Interrupt)
				}
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInterrupted {
				t.Fatalf("%s: %v, want exit %d\n%s", op, err, cli.ExitInterrupted, strings.Join(lines, "\n"))
			}
			if !strings.Contains(strings.Join(lines, "\n"), "interrupted") {
				t.Errorf("no message says it was interrupted:\n%s", strings.Join(lines, "\n"))
			}
			if after := dirState(t, dir); after != before {
				t.Errorf("an interrupted %s changed the repository:\nbefore %s\nafter  %s", op, before, after)
			}
		})
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, op := range []string{"add", "update", "reset"} {
		t.Run("anytime/"+op, func(t *testing.T) {
			dir, db, args := interruptRepo(t, pacrepo, env, op, 40)
			before := dirState(t, dir)
			cmd := exec.Command(pacrepo, append([]string{"--repo", db}, args...)...)
			cmd.Env = env
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			delay := time.Duration(rng.IntN(200)) * time.Millisecond
			time.Sleep(delay)
			cmd.Process.Signal(os.Interrupt)
			err := cmd.Wait()
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee) && ee.ExitCode() == cli.ExitInterrupted:
			case errors.As(err, &ee) && ee.ExitCode() == -1:
				// The signal came before pacrepo had started to listen for
				// it (a loaded machine starts processes slowly): the
				// default action ended it before it did anything.
				if dirState(t, dir) != before {
					t.Fatalf("%s killed by the signal before it started changed the repository", op)
				}
			default:
				t.Fatalf("%s interrupted after %s (seed %d): %v", op, delay, seed, err)
			}
			if err != nil && dirState(t, dir) != before {
				// Interrupted after its commit: the change is whole.
				t.Logf("%s interrupted after %s committed", op, delay)
			}
			// Before or after: the command run again finishes the work, and
			// check finds nothing wrong.
			if out, err := runPacrepo(context.Background(), pacrepo, env, append([]string{"--repo", db}, args...)...); err != nil {
				t.Fatalf("%s again after it was interrupted after %s (seed %d): %v\n%s", op, delay, seed, err, out)
			}
			out, cerr := runPacrepo(context.Background(), pacrepo, env, "--repo", db, "check")
			if cerr != nil {
				t.Fatalf("check after %s interrupted after %s (seed %d): %v\n%s", op, delay, seed, cerr, out)
			}
		})
	}
}

// interruptRepo makes a repository of n packages and returns the arguments
// of op that change it.
func interruptRepo(t *testing.T, pacrepo string, env []string, op string, n int) (dir, db string, args []string) {
	dir = filepath.Join(t.TempDir(), "repo")
	db = filepath.Join(dir, "r.db.tar.zst")
	src := t.TempDir()
	var pkgs []string
	for i := range n {
		pkgs = append(pkgs, testutil.MustMakePackage(t, src, testutil.PackageSpec{Name: fmt.Sprintf("p%02d", i), Version: "1-1", NumFiles: 20}))
	}
	if out, err := runPacrepo(context.Background(), pacrepo, env, append([]string{"--repo", db, "add"}, pkgs...)...); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	switch op {
	case "add":
		var newer []string
		for i := range n {
			newer = append(newer, testutil.MustMakePackage(t, t.TempDir(), testutil.PackageSpec{Name: fmt.Sprintf("p%02d", i), Version: "2-1", NumFiles: 20}))
		}
		return dir, db, append([]string{"add"}, newer...)
	case "update":
		for i := range n {
			testutil.MustMakePackage(t, dir, testutil.PackageSpec{Name: fmt.Sprintf("p%02d", i), Version: "2-1", NumFiles: 20})
		}
		return dir, db, []string{"update"}
	}
	os.Remove(filepath.Join(dir, ".r.pacrepo.cache")) // reset reads every file anyway
	return dir, db, []string{"reset"}
}

// dirState is every non-hidden name of dir with the SHA-256 of its content.
func dirState(t *testing.T, dir string) string {
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, d.Name()))
		if err != nil && !errors.Is(err, syscall.EISDIR) {
			data = []byte(err.Error())
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s=%s ", d.Name(), hex.EncodeToString(sum[:4]))
	}
	return b.String()
}

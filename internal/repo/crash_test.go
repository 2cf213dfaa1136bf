package repo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/testutil/sweep"
)

// crashScenario prepares a repository and says what the command does.
type crashScenario struct {
	op     string
	setup  func(t *testing.T, r *Repo, src string) []string // returns the command's arguments
	before map[string]string
	after  map[string]string
	again  func(r *Repo, args []string) error // the command run again after recovery
	// generations are how many the setup makes (1 when not said).
	generations int64
}

func crashScenarios() []crashScenario {
	return []crashScenario{
		{op: "add",
			setup: func(t *testing.T, r *Repo, src string) []string {
				mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
				return []string{mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "c", "1-1")}
			},
			before: map[string]string{"a": "1-1", "b": "1-1"},
			after:  map[string]string{"a": "2-1", "b": "1-1", "c": "1-1"},
			again:  func(r *Repo, args []string) error { _, err := r.Add(ctx, args, AddOptions{Mode: Copy}); return err },
		},
		{op: "move",
			setup: func(t *testing.T, r *Repo, src string) []string {
				mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
				return []string{mkpkg(t, src, "a", "2-1")}
			},
			before: map[string]string{"a": "1-1"},
			after:  map[string]string{"a": "2-1"},
			again: func(r *Repo, args []string) error {
				if _, err := os.Stat(args[0]); err != nil { // moved already
					_, err := r.Update(ctx, nil, Request{})
					return err
				}
				_, err := r.Add(ctx, args, AddOptions{Mode: Move})
				return err
			},
		},
		{op: "update",
			setup: func(t *testing.T, r *Repo, src string) []string {
				mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
				mkpkg(t, r.dir(), "a", "2-1")
				mkpkg(t, r.dir(), "b", "2-1")
				mkpkg(t, r.dir(), "c", "1-1")
				return nil
			},
			before: map[string]string{"a": "1-1", "b": "1-1"},
			after:  map[string]string{"a": "2-1", "b": "2-1", "c": "1-1"},
			again:  func(r *Repo, args []string) error { _, err := r.Update(ctx, args, Request{}); return err },
		},
		{op: "rollback",
			setup: func(t *testing.T, r *Repo, src string) []string {
				mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
				mustAdd(t, r, mkpkg(t, src, "a", "2-1"), mkpkg(t, src, "c", "1-1"))
				return []string{"1"} // a 1-1 comes back from the backup directory
			},
			generations: 2,
			before:      map[string]string{"a": "2-1", "b": "1-1", "c": "1-1"},
			after:       map[string]string{"a": "1-1", "b": "1-1"},
			again:       func(r *Repo, args []string) error { _, err := r.Rollback(ctx, 1, Request{}); return err },
		},
		{op: "remove",
			setup: func(t *testing.T, r *Repo, src string) []string {
				mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"), mkpkg(t, src, "c", "1-1"))
				mkpkg(t, r.dir(), "a", "0.9-1") // an older file of a, removed with it
				return []string{"a", "b"}
			},
			before: map[string]string{"a": "1-1", "b": "1-1", "c": "1-1"},
			after:  map[string]string{"c": "1-1"},
			again: func(r *Repo, args []string) error {
				var left []string
				es, err := r.Entries(ctx)
				if err != nil {
					return err
				}
				for _, e := range es {
					for _, n := range args {
						if e.Name == n {
							left = append(left, n)
						}
					}
				}
				if len(left) == 0 {
					_, err = r.Update(ctx, nil, Request{})
					return err
				}
				_, err = r.Remove(ctx, left, Request{})
				return err
			},
		},
	}
}

func mustAdd(t testing.TB, r *Repo, files ...string) {
	t.Helper()
	if _, err := r.Add(ctx, files, AddOptions{Mode: Copy}); err != nil {
		t.Fatal(err)
	}
}

// contents is the multiset of SHA-256 of every package file under dirs.
func contents(t testing.TB, dirs ...string) map[string]int {
	m := map[string]int{}
	for _, d := range dirs {
		for name, sha := range listing(t, d) {
			if (layout.Names{}).Classify(name) == layout.Package {
				m[sha]++
			}
		}
	}
	return m
}

func assertNothingLost(t testing.TB, before, after map[string]int) {
	t.Helper()
	for sha := range before {
		if after[sha] == 0 {
			t.Errorf("a package file was lost (sha256 %s)", sha)
		}
	}
}

// TestCrashAtEveryStepSweep kills add, move, update and remove at every
// crash point in a child process, checks the repository is in its before-
// or after-state with nothing lost, then lets recovery (check --repair, or
// the next command) finish, and checks again. Each case is one child
// process run to its crash: a sweep (see sweep.Cases).
func TestCrashAtEveryStepSweep(t *testing.T) {
	type crashCase struct {
		sc    crashScenario
		index int // of the point in CrashPoints: even ones recover by check --repair
		point string
	}
	var cases []crashCase
	for _, sc := range crashScenarios() {
		for i, point := range CrashPoints {
			if point == "mid-recover" {
				continue // exercised by TestCrashDuringRecovery
			}
			cases = append(cases, crashCase{sc, i, point})
		}
	}
	for _, c := range sweep.Cases(t, cases) {
		sc, i, point := c.sc, c.index, c.point
		t.Run(sc.op+"/"+point, func(t *testing.T) {
			r := newRepo(t)
			r = withOpts(r, func(o *Options) { o.BackupDir = filepath.Join(t.TempDir(), "backup") })
			src := t.TempDir()
			args := sc.setup(t, r, src)
			if got := registered(t, r); !reflect.DeepEqual(got, sc.before) {
				t.Fatalf("setup: %v", got)
			}
			have := contents(t, r.dir(), src)
			out, err := helper(r, sc.op, args, CrashEnv+"="+point).CombinedOutput()
			killed := false
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
					killed = true
				} else {
					t.Fatalf("child failed: %v\n%s", err, out)
				}
			}
			reached := (point != "mid-place" || sc.op == "add" || sc.op == "move" || sc.op == "rollback") &&
				point != "mid-place-sig" // no scenario here places a signature: see TestCrashBetweenSignatureAndPackage
			if reached && !killed {
				t.Fatalf("crash point %s was not reached by %s:\n%s", point, sc.op, out)
			}
			got := registered(t, r)
			if !reflect.DeepEqual(got, sc.before) && !reflect.DeepEqual(got, sc.after) {
				t.Fatalf("after crash at %s: registered %v, neither before %v nor after %v", point, got, sc.before, sc.after)
			}
			if !killed && !reflect.DeepEqual(got, sc.after) {
				t.Fatalf("not killed but not done: %v", got)
			}
			assertInvariant1(t, r)
			assertNothingLost(t, have, contents(t, r.dir(), src, r.opts.BackupDir))
			// Recovery: check --repair or the next command.
			if i%2 == 0 {
				if _, err := r.Check(ctx, true); err != nil {
					t.Fatal(err)
				}
				assertInvariant1(t, r)
				if g := registered(t, r); !reflect.DeepEqual(g, got) {
					t.Fatalf("repair changed the registered set: %v -> %v", got, g)
				}
			}
			if err := sc.again(r, args); err != nil {
				t.Fatalf("command after crash: %v", err)
			}
			if got := registered(t, r); !reflect.DeepEqual(got, sc.after) {
				t.Fatalf("after recovery: %v, want %v", got, sc.after)
			}
			assertInvariant1(t, r)
			assertClean(t, r)
			assertNothingLost(t, have, contents(t, r.dir(), src, r.opts.BackupDir))
			if _, err := os.Stat(r.journalPath()); !os.IsNotExist(err) {
				t.Errorf("journal left: %v", err)
			}
			// The setup is generation 1; the change interrupted is
			// generation 2, whole, whether recovery finished it or
			// the command run again made it.
			assertHistory(t, r, 1, max(sc.generations, 1)+1)
			for name := range listing(t, r.dir()) {
				if (layout.Names{}).Classify(name) == layout.Package {
					if _, ok := sc.after[guessName(name)]; !ok || fmt.Sprint(sc.after[guessName(name)]) != versionOf(name) {
						t.Errorf("file %s is still in the repository", name)
					}
				}
			}
		})
	}
}

// versionOf is the version in a test file name NAME-VER-REL-ARCH.pkg.tar.zst.
func versionOf(filename string) string {
	n := guessName(filename)
	rest := filename[len(n)+1:]
	var ver, rel string
	fmt.Sscanf(rest, "%s", &rest)
	parts := splitN(rest, '-', 3)
	ver, rel = parts[0], parts[1]
	return ver + "-" + rel
}

func splitN(s string, sep byte, n int) []string {
	var out []string
	for len(out) < n-1 {
		i := indexByte(s, sep)
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return append(out, s)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// TestCrashDuringRecovery crashes a transaction, then crashes its recovery,
// then recovers.
func TestCrashDuringRecovery(t *testing.T) {
	sc := crashScenarios()[2] // update
	r := newRepo(t)
	src := t.TempDir()
	args := sc.setup(t, r, src)
	have := contents(t, r.dir(), src)
	helper(r, "update", args, CrashEnv+"=mid-retire").Run()
	if _, err := os.Stat(r.journalPath()); err != nil {
		t.Fatalf("no journal after crash: %v", err)
	}
	helper(r, "repair", nil, CrashEnv+"=mid-recover").Run()
	assertInvariant1(t, r)
	if _, err := r.Check(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, sc.after) {
		t.Fatalf("registered %v", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	assertHistory(t, r, 1, 2) // the update's generation, written once
	_ = have
}

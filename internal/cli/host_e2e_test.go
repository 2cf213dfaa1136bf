package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestHostPacmanSyncWhileOtherProcessesChangeRepository is the end-to-end
// form of the promise of `pacrepo host`: readers never see a half-written or
// missing database while pacrepo changes the repository. Three kinds of OS
// process take part, as on a build farm:
//
//   - the real `pacrepo host`, serving the repository on a free port;
//   - `pacrepo add` and `pacrepo remove` processes, started one after the
//     other in a loop, toggling a package with many files (so that writing
//     the files database takes a while);
//   - real `pacman -Syy`, `-Sl`, `-Fyy` and `-Fl` against the server.
//
// Every sync must succeed and list a whole database: every base package,
// and the toggled package either completely or not at all. The test counts
// the downloads of each database during which a writer replaced it, and
// goes on until each database was so raced 3 times (12 syncs at least:
// they race the files database about every other time, the database
// every fourth); it fails if the writers and the syncs did not overlap
// enough to prove anything. 20 syncs with no such count made the same
// point blindly.
func TestHostPacmanSyncWhileOtherProcessesChangeRepository(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	minSyncs, minRaced := 12, 3
	if testing.Short() {
		minSyncs, minRaced = 8, 1
	}
	// The loop runs until the writers have made enough changes, however
	// slow the machine (the race detector slows every process); the
	// deadline only bounds a writer that makes no progress at all.
	deadline := time.Now().Add(5 * time.Minute)
	const minWrites = 10

	pacrepo := pacrepoCommand(t)
	env := isolatedEnv(t)
	dir, src := t.TempDir(), t.TempDir()
	db := filepath.Join(dir, "testrepo.db.tar.zst")

	base := []string{"alpha", "beta", "delta", "epsilon", "zeta"}
	var basePaths []string
	for _, n := range base {
		basePaths = append(basePaths, testutil.MustMakePackage(t, src, testutil.PackageSpec{Name: n, Version: "1.0-1", Arch: "any", NumFiles: 3}))
	}
	gamma := testutil.MustMakePackage(t, src, testutil.PackageSpec{Name: "gamma", Version: "2.0-1", Arch: "any", NumFiles: 2000, FileSize: 16})
	if out, err := runPacrepo(context.Background(), pacrepo, env, append([]string{"--repo", db, "add"}, basePaths...)...); err != nil {
		t.Fatalf("pacrepo add (base packages): %v\n%s", err, out)
	}

	url, hostLog := startHostProcess(t, pacrepo, env, db, "testrepo")
	pm := testutil.NewPacman(t, map[string]string{"testrepo": url})

	// The writer: separate pacrepo processes, one change each. Stopping
	// lets the running process finish (killing it would leave a journal
	// for the next command to finish, which is not what this test is about).
	stop := make(chan struct{})
	var writes atomic.Int64
	writerErr := make(chan error, 1)
	go func() {
		defer close(writerErr)
		for {
			for _, args := range [][]string{{"add", gamma}, {"remove", "gamma"}} {
				select {
				case <-stop:
					return
				default:
				}
				out, err := runPacrepo(context.Background(), pacrepo, env, append([]string{"--repo", db}, args...)...)
				if err != nil {
					writerErr <- fmt.Errorf("pacrepo %s: %v\n%s", args[0], err, out)
					return
				}
				writes.Add(1)
			}
		}
	}()
	stopWriter := func() error {
		close(stop)
		return <-writerErr
	}
	fail := func(format string, args ...any) {
		t.Helper()
		werr := stopWriter()
		t.Fatalf("%s\nwriter: %v\nhost log:\n%s", fmt.Sprintf(format, args...), werr, hostLog.tail(20))
	}

	seen := map[bool]int{}    // gamma present in the synced database or not
	raced, racedFiles := 0, 0 // downloads of each database a change raced
	i := 0
	for ; time.Now().Before(deadline) && (i < minSyncs || writes.Load() < minWrites || raced < minRaced || racedFiles < minRaced || len(seen) < 2); i++ {
		before := writes.Load()
		if out, err := pm.Run("-Syy"); err != nil {
			fail("sync %d (after %d database writes): pacman -Syy: %v\n%s", i, writes.Load(), err, out)
		}
		if writes.Load() > before {
			raced++
		}
		out, err := pm.Run("-Sl", "testrepo")
		// pacman -Sl exits 0 even when it cannot read a database.
		if err != nil || strings.Contains(out, "error:") {
			fail("sync %d: pacman -Sl: %v\n%s", i, err, out)
		}
		listed := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "testrepo" {
				listed[f[1]] = f[2]
			}
		}
		for _, n := range base {
			if listed[n] != "1.0-1" {
				fail("sync %d: %s 1.0-1 missing from the synced database:\n%s", i, n, out)
			}
		}
		if v, ok := listed["gamma"]; ok && v != "2.0-1" {
			fail("sync %d: gamma listed as %q:\n%s", i, v, out)
		}
		seen[listed["gamma"] != ""]++

		// The files database is served whole as well.
		before = writes.Load()
		if out, err := pm.Run("-Fyy"); err != nil {
			fail("sync %d: pacman -Fyy: %v\n%s", i, err, out)
		}
		if writes.Load() > before {
			racedFiles++
		}
		out, err = pm.Run("-Fl", "alpha")
		if err != nil || strings.Contains(out, "error:") || !strings.Contains(out, "alpha ") {
			fail("sync %d: pacman -Fl alpha: %v\n%s", i, err, out)
		}
	}
	if err := stopWriter(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d syncs during %d database writes by other processes, %d of the database's downloads and %d of the files database's while a change was made; gamma seen %d times, absent %d times",
		i, writes.Load(), raced, racedFiles, seen[true], seen[false])
	if writes.Load() < minWrites || raced < minRaced || racedFiles < minRaced || len(seen) < 2 {
		t.Fatalf("the writers did not overlap the syncs enough (%d writes, %d and %d downloads raced, seen %v): the test proved nothing", writes.Load(), raced, racedFiles, seen)
	}

	// What the writers left behind is a sound repository.
	if out, err := runPacrepo(context.Background(), pacrepo, env, "--repo", db, "check"); err != nil {
		t.Fatalf("pacrepo check after the run: %v\n%s", err, out)
	}
}

// pacrepoCommand is the path of the "pacrepo" command that TestMain
// (testscript.Main) puts first in $PATH: this test binary, which runs
// cli.Main when called by that name.
func pacrepoCommand(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("pacrepo")
	if err != nil {
		t.Fatalf("pacrepo command not in $PATH (TestMain should have put it there): %v", err)
	}
	return p
}

// isolatedEnv is the environment of the pacrepo processes: no configuration
// of this machine or user leaks in.
func isolatedEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CONFIG_DIRS="+filepath.Join(home, "etc-xdg"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		// A process the test kills leaves its temporary files here, where
		// the test's cleanup finds them, not in the system's directory.
		"TMPDIR="+t.TempDir(),
		"PACREPO_CONFIG=", "REPOCTL_CONFIG=", "PACREPO_HOST_AUTH=",
		"NO_COLOR=1",
	)
}

func runPacrepo(ctx context.Context, pacrepo string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, pacrepo, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// hostLog collects the standard error of a `pacrepo host` process.
type hostLog struct {
	mu    sync.Mutex
	lines []string
}

func (h *hostLog) add(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, line)
}

func (h *hostLog) tail(n int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	from := max(0, len(h.lines)-n)
	return strings.Join(h.lines[from:], "\n")
}

// startHostProcess runs `pacrepo --repo DB host --listen 127.0.0.1:0` as a
// process of its own, reads the URL of repository name from the line it
// prints when it listens, and stops it with SIGTERM when the test ends
// (checking that it stops cleanly).
func startHostProcess(t *testing.T, pacrepo string, env []string, db, name string) (string, *hostLog) {
	t.Helper()
	cmd := exec.Command(pacrepo, "--repo", db, "host", "--listen", "127.0.0.1:0")
	cmd.Env = env
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pacrepo host: %v", err)
	}
	log := &hostLog{}
	serving := regexp.MustCompile(`^pacrepo: serving ` + regexp.QuoteMeta(name) + ` from .* at (http://127\.0\.0\.1:[0-9]+/` + regexp.QuoteMeta(name) + `)$`)
	urlc := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.add(sc.Text())
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		<-logDone // Wait closes the pipe: read it to the end first
		exited <- cmd.Wait()
	}()

	stop := func() error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second): // a hang, not a slow machine
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("did not stop within 30 s of SIGTERM; killed")
		}
	}
	var url string
	select {
	case url = <-urlc:
	case err := <-exited:
		t.Fatalf("pacrepo host exited before listening: %v\n%s", err, log.tail(20))
	case <-time.After(60 * time.Second): // a hang, not a slow machine
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("pacrepo host printed no serving line\n%s", log.tail(20))
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("pacrepo host: %v\n%s", err, log.tail(20))
		}
		if !strings.Contains(log.tail(1), "server stopped") {
			t.Errorf("pacrepo host did not report a clean stop:\n%s", log.tail(5))
		}
	})
	return url, log
}

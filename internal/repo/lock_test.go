package repo

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

func TestLockTimeoutNamesTheHolder(t *testing.T) {
	r := newRepo(t)
	l, err := r.lock(ctx, "test-holder")
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	r2 := withOpts(r, func(o *Options) { o.LockTimeout = 100 * time.Millisecond })
	_, err = r2.Update(ctx, nil, Request{})
	var lt *LockTimeoutError
	if !errors.As(err, &lt) || !strings.Contains(lt.Holder, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(lt.Holder, "test-holder") {
		t.Fatalf("got %v", err)
	}
	// A dry run takes no lock.
	if _, err := r2.Update(ctx, nil, Request{DryRun: true}); err != nil {
		t.Fatalf("dry run: %v", err)
	}
}

// TestLockHolderIsWhoHoldsItNow: the lock file still names its last
// holder (an idle watch) once that one let go; a waiter names the process
// that holds the lock now, as the kernel says, not the stale words.
func TestLockHolderIsWhoHoldsItNow(t *testing.T) {
	if _, err := os.Stat("/proc/locks"); err != nil {
		t.Skip("no /proc/locks to ask")
	}
	r := newRepo(t)
	// What a watch, another process, wrote when it last held the lock.
	stale := fmt.Sprintf("pid %d on host, running %q since 2026-01-01T00:00:00Z\n", os.Getpid()+1, "watch")
	if err := os.WriteFile(r.lockPath(), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another holder, which has not written its words yet.
	other := flock.New(r.lockPath())
	if ok, err := other.TryLock(); !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer other.Unlock()
	quick := withOpts(r, func(o *Options) { o.LockTimeout = 50 * time.Millisecond })
	var lt *LockTimeoutError
	if _, err := quick.Update(ctx, nil, Request{}); !errors.As(err, &lt) {
		t.Fatalf("while held: %v", err)
	}
	if strings.Contains(lt.Holder, "watch") || !strings.HasPrefix(lt.Holder, fmt.Sprintf("pid %d (", os.Getpid())) {
		t.Errorf("holder %q: want pid %d and its command line, not the idle watch", lt.Holder, os.Getpid())
	}
}

// TestLockInUnwritableDirectory: a repository directory this user may not
// write in is reported as the directory's problem, not as an error of a
// lock file that does not exist. As root, the lock is taken on a thread
// whose file-system uid is nobody's, which root's permissions do not cover.
func TestLockInUnwritableDirectory(t *testing.T) {
	r := newRepo(t)
	if err := os.Chmod(r.dir(), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(r.dir(), 0o755) })
	done := make(chan error)
	go func() {
		if os.Geteuid() == 0 {
			// The thread is never unlocked: it ends with the goroutine,
			// so no other goroutine runs with its uid.
			runtime.LockOSThread()
			unix.Setfsuid(65534)
		}
		_, err := r.lock(ctx, "test")
		done <- err
	}()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "repository directory "+r.dir()+": cannot write in it (permission denied)") || strings.Contains(err.Error(), "lock ") {
		t.Fatalf("err = %v, want the directory named as the problem", err)
	}
}

// TestRepoAddLockIsHonoured: a .lck made like repo-add's, holding a live
// pid, makes update wait and time out; real repo-add refuses to run while
// we hold the lock.
func TestRepoAddLockIsHonoured(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	lck := r.opts.DB.Lockfile()
	if err := os.WriteFile(lck, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r2 := withOpts(r, func(o *Options) { o.LockTimeout = 150 * time.Millisecond })
	_, err := r2.Update(ctx, nil, Request{})
	var lt *LockTimeoutError
	if !errors.As(err, &lt) || lt.Path != lck || !strings.Contains(lt.Holder, "repo-add pid") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(lck); err != nil {
		t.Fatal("repo-add's lock was removed")
	}
	// A stale one (dead pid) is reported, never deleted.
	os.WriteFile(lck, []byte("999999999\n"), 0o644)
	if _, err := r2.Update(ctx, nil, Request{}); !errors.As(err, &lt) || !strings.Contains(lt.Holder, "not running") {
		t.Fatalf("stale: %v", err)
	}
	os.Remove(lck)
	// A .lck of ours left by a dead pacrepo is cleared.
	os.WriteFile(lck, []byte("999999999\npacrepo\n"), 0o644)
	if _, err := r2.Update(ctx, nil, Request{}); err != nil {
		t.Fatalf("our stale .lck: %v", err)
	}
	if _, err := os.Stat(lck); !os.IsNotExist(err) {
		t.Fatal(".lck not released")
	}

	repoAdd := testutil.RequireTool(t, "repo-add")
	l, err := r.lock(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(repoAdd, r.opts.DB.DBPath(), mkpkg(t, r.dir(), "b", "1-1")).CombinedOutput()
	l.release()
	if err == nil || !strings.Contains(string(out), "Failed to acquire lockfile") {
		t.Fatalf("repo-add ran while we held the lock: %v\n%s", err, out)
	}
	if _, err := os.Stat(lck); !os.IsNotExist(err) {
		t.Fatal(".lck not released")
	}
	// Once released, repo-add works on what we wrote.
	if out, err := exec.Command(repoAdd, r.opts.DB.DBPath(), filepath.Join(r.dir(), fn("b", "1-1"))).CombinedOutput(); err != nil {
		t.Fatalf("repo-add after release: %v\n%s", err, out)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "b": "1-1"}) {
		t.Fatalf("registered %v", got)
	}
}

// TestLockReleasedWhenHolderIsKilled: a child takes the lock and is
// SIGKILLed; the next command proceeds.
func TestLockReleasedWhenHolderIsKilled(t *testing.T) {
	r := newRepo(t)
	cmd := helper(r, "hold", nil)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		cmd.Process.Kill()
		t.Fatalf("child: %q", line)
	}
	quick := withOpts(r, func(o *Options) { o.LockTimeout = 50 * time.Millisecond })
	var lt *LockTimeoutError
	if _, err := quick.Update(ctx, nil, Request{}); !errors.As(err, &lt) || !strings.Contains(lt.Holder, strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("while held: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	assertClean(t, r)
}

// TestParallelGoroutines: 16 goroutines add, update and remove at once.
func TestParallelGoroutines(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("g%02d", i)
			for v := 1; v <= 3; v++ {
				if _, err := r.Add(ctx, []string{mkpkg(t, src, name, fmt.Sprintf("%d-1", v))}, AddOptions{Mode: Copy}); err != nil {
					t.Error(err)
				}
				if _, err := r.Update(ctx, nil, Request{}); err != nil {
					t.Error(err)
				}
			}
			if i%4 == 0 {
				if _, err := r.Remove(ctx, []string{name}, Request{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	want := map[string]string{}
	for i := range 16 {
		if i%4 != 0 {
			want[fmt.Sprintf("g%02d", i)] = "3-1"
		}
	}
	if got := registered(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("registered %v\nwant %v", got, want)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
	if n := len(pkgNames(listing(t, r.dir()))); n != len(want) {
		t.Errorf("%d package files in the directory, want %d", n, len(want))
	}
}

// TestParallelProcesses: 16 processes add (and some remove) at once while
// the test process updates.
func TestParallelProcesses(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "base", "1-1"))
	var cmds []*exec.Cmd
	want := map[string]string{"base": "1-1"}
	for i := range 16 {
		name := fmt.Sprintf("p%02d", i)
		files := []string{mkpkg(t, src, name, "1-1")}
		op := "add"
		if i%3 == 0 {
			op = "move"
		}
		cmds = append(cmds, helper(r, op, files))
		want[name] = "1-1"
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if _, err := r.Update(ctx, nil, Request{}); err != nil {
			t.Error(err)
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}
	// Then 8 processes remove half of them at once.
	cmds = nil
	for i := 0; i < 16; i += 2 {
		name := fmt.Sprintf("p%02d", i)
		cmds = append(cmds, helper(r, "remove", []string{name}))
		delete(want, name)
	}
	for _, c := range cmds {
		c.Start()
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("remove child: %v", err)
		}
	}
	if got := registered(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("registered %v\nwant %v", got, want)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

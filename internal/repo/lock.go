package repo

// Locking (invariant 4). Writers take, in this order:
//
//  1. An exclusive flock(2) on .NAME.pacrepo.lock in the repository
//     directory (gofrs/flock). The kernel releases it when the holder dies,
//     so a killed pacrepo never blocks the next one. The file is never
//     deleted (deleting a lock file lets two processes lock two inodes);
//     after locking, the holder writes who it is into it, which a waiter
//     that times out reports.
//  2. repo-add's lock file NAME.db.tar.EXT.lck (and NAME.files.tar.EXT.lck),
//     created with O_EXCL exactly like repo-add's noclobber redirection, so
//     that repo-add refuses to run while we work, and so that we wait while
//     repo-add works. Our .lck holds our pid and a second line "pacrepo".
//     A .lck found while we hold the flock that says "pacrepo" was left by a
//     pacrepo that died (we hold the flock, so no live pacrepo owns it) and
//     is removed. A .lck of repo-add is waited for; we never delete it, even
//     when its pid is not running (it may belong to another host on a shared
//     file system): at the timeout the error says so and names the file.
//
// Both waits share Options.LockTimeout; 0 means try once.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

const lockPoll = 20 * time.Millisecond

type repoLock struct {
	fl   *flock.Flock
	lcks []string // repo-add lock files we created
}

func (r *Repo) lock(ctx context.Context, command string) (*repoLock, error) {
	start := time.Now()
	deadline := start.Add(r.opts.LockTimeout)
	fl := flock.New(r.lockPath(), flock.SetPermissions(0o644))
	poll := time.NewTicker(lockPoll)
	defer poll.Stop()
	// waitPoll waits for the next try, or for the command's cancellation.
	waitPoll := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			return nil
		}
	}
	wait := &lockWaitNotice{notify: r.opts.OnLockWait, timeout: r.opts.LockTimeout}
	for {
		ok, err := fl.TryLock()
		if err != nil {
			if _, serr := os.Stat(r.dir()); errors.Is(serr, fs.ErrNotExist) {
				return nil, fmt.Errorf("repository directory %s does not exist (reset or add creates a repository)", r.dir())
			}
			// A lock file that could not be created is the directory's
			// fault, not the lock file's: say what to fix.
			if _, lerr := os.Lstat(r.lockPath()); lerr != nil && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
				return nil, fmt.Errorf("repository directory %s: cannot write in it (%s): pacrepo writes its lock, database and package files there; run as a user who may write there", r.dir(), rootCause(err))
			}
			return nil, fmt.Errorf("lock %s: %s", r.lockPath(), reasonAbout(r.lockPath(), err))
		}
		if ok {
			break
		}
		if !time.Now().Before(deadline) {
			return nil, &LockTimeoutError{Path: r.lockPath(), Holder: r.flockHolder(), Waited: time.Since(start).Round(time.Millisecond)}
		}
		wait.tell(r.lockPath(), r.flockHolder)
		if err := waitPoll(); err != nil {
			return nil, err
		}
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d on %s, running %q since %s\n", os.Getpid(), host, command, time.Now().Format(time.RFC3339))
	_ = os.WriteFile(r.lockPath(), []byte(info), 0o644)

	l := &repoLock{fl: fl}
	for _, lck := range r.repoAddLocks() {
		for {
			held, holder, err := r.takeRepoAddLock(lck)
			if err != nil {
				l.release()
				return nil, err
			}
			if !held {
				l.lcks = append(l.lcks, lck)
				break
			}
			if !time.Now().Before(deadline) {
				l.release()
				return nil, &LockTimeoutError{Path: lck, Holder: holder, Waited: time.Since(start).Round(time.Millisecond)}
			}
			wait.tell(lck, func() string { return holder })
			if err := waitPoll(); err != nil {
				l.release()
				return nil, err
			}
		}
	}
	return l, nil
}

// rootCause is the system's reason under err, without the paths and
// operations its wrappers add.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// flockHolder is who holds the flock. The lock file keeps what its last
// holder wrote after that one let go (an idle watch is still named there),
// until the next holder, which writes only once it holds the lock, replaces
// it. So the kernel's list of locks is asked first: when it names the
// holding pids, the file's words are used only if they are one of theirs.
func (r *Repo) flockHolder() string {
	written := ""
	if b, err := os.ReadFile(r.lockPath()); err == nil {
		written = strings.TrimSpace(string(b))
	}
	pids := flockHolders(r.lockPath())
	for _, pid := range pids {
		if strings.HasPrefix(written, fmt.Sprintf("pid %d ", pid)) {
			return written
		}
	}
	if len(pids) > 0 {
		return describeProcess(pids[0])
	}
	if written == "" {
		return "unknown"
	}
	return written
}

// flockHolders lists the pids that hold a flock on path, as /proc/locks
// (Linux) tells; nil when it cannot tell (another system, another host on
// a network file system).
func flockHolders(path string) []int {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	// "1: FLOCK  ADVISORY  WRITE 2504 fe:00:10011847 0 EOF"; a waiter's
	// line has "->" after the number.
	file := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	var pids []int
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != file {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// describeProcess names a process that holds the lock without having said
// who it is: its pid and command line.
func describeProcess(pid int) string {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return fmt.Sprintf("pid %d", pid)
	}
	command := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if len(command) > 200 {
		command = command[:200] + "..."
	}
	return fmt.Sprintf("pid %d (%s)", pid, command)
}

// lockWaitNotice calls Options.OnLockWait once, the first time a writer has
// to wait, so that a user is not left looking at a silent command.
type lockWaitNotice struct {
	notify  func(LockWait)
	timeout time.Duration
	told    bool
}

func (n *lockWaitNotice) tell(path string, holder func() string) {
	if n.told || n.notify == nil {
		return
	}
	n.told = true
	n.notify(LockWait{Path: path, Holder: holder(), Timeout: n.timeout})
}

// takeRepoAddLock creates lck holding our pid and "pacrepo". The content is
// written to a temporary file first and linked into place (link(2) fails
// when lck exists, like O_EXCL), so our .lck is never seen empty: a process
// killed between creating and writing it would otherwise leave an empty
// file that nobody can attribute. held reports that someone else (repo-add)
// holds it, with a description.
func (r *Repo) takeRepoAddLock(lck string) (held bool, holder string, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		err := linkNewFile(lck, fmt.Sprintf("%d\npacrepo\n", os.Getpid()))
		if err == nil {
			return false, "", nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, "", err
		}
		b, rerr := os.ReadFile(lck)
		if errors.Is(rerr, fs.ErrNotExist) {
			continue // released meanwhile
		}
		lines := strings.Fields(string(b))
		if len(lines) >= 2 && lines[1] == "pacrepo" {
			// Ours, from a pacrepo that died: we hold the flock.
			if err := os.Remove(lck); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, "", fmt.Errorf("remove stale %s: %w", lck, err)
			}
			continue
		}
		return true, describeRepoAddLock(lck, lines), nil
	}
	return true, "repo-add (" + lck + " keeps reappearing)", nil
}

// linkNewFile creates path with content, complete from the first moment it
// exists; it fails with fs.ErrExist when path exists.
func linkNewFile(path, content string) error {
	tmp, err := fsutil.WriteTemp(filepath.Dir(path), path, []byte(content), 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp)
	crashPoint("mid-lock")
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

func describeRepoAddLock(lck string, fields []string) string {
	if len(fields) == 0 {
		return fmt.Sprintf("an empty lock file %s: a repo-add starting, or one killed before it wrote its pid; if no repo-add is running, remove %s", lck, lck)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return fmt.Sprintf("unknown: %s holds %q, not a pid; if no repo-add is running, remove %s", lck, fields[0], lck)
	}
	if !pidAlive(pid) {
		return fmt.Sprintf("repo-add pid %d, which is not running on this host: remove %s by hand if no repo-add is running", pid, lck)
	}
	return fmt.Sprintf("repo-add pid %d (%s)", pid, lck)
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (l *repoLock) release() {
	for _, lck := range l.lcks {
		os.Remove(lck)
	}
	l.lcks = nil
	l.fl.Unlock()
	l.fl.Close()
}

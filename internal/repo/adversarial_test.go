package repo

import (
	"bufio"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/signature"

	"golang.org/x/sys/unix"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// finishes runs f and fails the test if it has not returned after a
// minute: the operations tested here take milliseconds, so this only
// catches a hang (a FIFO opened for reading, /dev/zero read to the end).
func finishes(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s hangs", what)
		return nil
	}
}

// TestHostileDirectoryEntries fills the repository directory with what an
// attacker (or an accident) can put there: odd file names, symbolic links
// to devices and FIFOs, FIFOs, a directory and a terabyte sparse file named
// like packages, a FIFO and /dev/zero as signatures, packages whose
// pkgname would escape the database layout. Update must finish at once,
// register what is a package, report every other such file by name, keep
// the database valid for pacman, and let the next commands work.
func TestHostileDirectoryEntries(t *testing.T) {
	r := newRepo(t)
	dir := r.dir()
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	moveIn := func(pkg, name string) {
		t.Helper()
		if err := os.Rename(pkg, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Registered: odd but writable file names (repo-add takes them too).
	oddNames := map[string]string{
		"space":  "sp ace-1-1-x86_64.pkg.tar.zst",
		"binary": "bin\xff\xfe-1-1-x86_64.pkg.tar.zst",
		"pct":    "pct%FILENAME%-1-1-x86_64.pkg.tar.zst",
	}
	for name, file := range oddNames {
		moveIn(mkpkg(t, src, name, "1-1"), file)
	}
	// A package file that is a symbolic link to a package outside the
	// directory is registered, like the links add --link makes.
	outside := mkpkg(t, t.TempDir(), "linked", "1-1")
	os.Symlink(outside, filepath.Join(dir, fn("linked", "1-1")))
	// An odd version that can still be written.
	pkggen.MakePackage(dir, pkggen.Spec{Name: "spacever", Version: "1-1", Extra: [][2]string{{"pkgver", "1 2-1"}}})
	// b gets a FIFO, c a link to /dev/zero as its signature: a signature
	// that cannot be read refuses its package, without a hang.
	mkpkg(t, dir, "b", "1-1")
	mkpkg(t, dir, "c", "1-1")
	if err := syscall.Mkfifo(filepath.Join(dir, fn("b", "1-1")+".sig"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/dev/zero", filepath.Join(dir, fn("c", "1-1")+".sig"))

	// Problems: each is reported by name with its kind, nothing else.
	problems := map[string]string{}
	bad := func(name string, kind pkgfile.ErrorKind) { problems[name] = kind.String() }
	problems[fn("b", "1-1")+".sig"] = signature.Malformed.String()
	problems[fn("c", "1-1")+".sig"] = signature.Malformed.String()
	moveIn(mkpkg(t, src, "nl", "1-1"), "n\nl-1-1-x86_64.pkg.tar.zst")
	bad("n\nl-1-1-x86_64.pkg.tar.zst", pkgfile.NotPackage)
	os.Symlink("/dev/zero", filepath.Join(dir, fn("zero", "1-1")))
	bad(fn("zero", "1-1"), pkgfile.NotPackage)
	syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644)
	os.Symlink(filepath.Join(src, "fifo"), filepath.Join(dir, fn("fifolink", "1-1")))
	bad(fn("fifolink", "1-1"), pkgfile.NotPackage)
	syscall.Mkfifo(filepath.Join(dir, fn("fifo", "1-1")), 0o644)
	bad(fn("fifo", "1-1"), pkgfile.NotPackage)
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, fn("dangling", "1-1")))
	bad(fn("dangling", "1-1"), pkgfile.Unreadable)
	if f, err := os.Create(filepath.Join(dir, fn("sparse", "1-1"))); err == nil {
		if f.Truncate(1<<40) == nil {
			bad(fn("sparse", "1-1"), pkgfile.Incomplete)
		}
		f.Close()
	}
	for i, hostile := range []string{"../escape", "x/y", ".hidden", ".."} {
		p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: "hostile" + itoa(i), Version: "1-1",
			Extra: [][2]string{{"pkgname", hostile}}})
		if err != nil {
			t.Fatal(err)
		}
		bad(filepath.Base(p), pkgfile.Corrupt)
	}
	if p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: "slashver", Version: "1-1",
		Extra: [][2]string{{"pkgver", "1/../2-1"}}}); err == nil {
		bad(filepath.Base(p), pkgfile.Corrupt)
	}
	os.Mkdir(filepath.Join(dir, fn("dir", "1-1")), 0o755) // a directory is skipped

	var res *Result
	err := finishes(t, "update", func() (err error) { res, err = r.Update(ctx, nil, Request{}); return err })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1-1", "linked": "1-1", "spacever": "1 2-1"}
	for name := range oddNames {
		want[name] = "1-1"
	}
	if got := registered(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("registered %v, want %v", got, want)
	}
	seen := map[string]string{}
	for _, p := range res.Plan.Problems {
		seen[filepath.Base(p.Path)] = p.Kind.String()
		if p.Signature != 0 {
			seen[filepath.Base(p.Path)] = p.Signature.String()
		}
		if !strings.Contains(p.Err.Error(), "") || p.Path == "" {
			t.Errorf("problem without a path: %+v", p)
		}
	}
	if !reflect.DeepEqual(seen, problems) {
		t.Errorf("problems %q, want %q", seen, problems)
	}
	for name := range problems {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("problem file %q was touched: %v", name, err)
		}
	}
	assertInvariant1(t, r)

	// Status, check and remove work too, and pacman reads the database.
	if err := finishes(t, "status", func() error { _, err := r.Status(ctx, nil, Request{}); return err }); err != nil {
		t.Fatal(err)
	}
	var rep *Report
	if err := finishes(t, "check", func() (err error) { rep, err = r.Check(ctx, false); return err }); err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if _, ok := problems[filepath.Base(f.Path)]; !ok || (f.Kind != FindUnreadable && f.Kind != FindSignature) {
			t.Errorf("check: %s %s: %s", f.Kind, f.Path, f.Detail)
		}
	}
	pm := testutil.NewPacman(t, map[string]string{"test": dir})
	pm.MustRun("-Syy")
	if got := len(pm.Sync("test")); got != len(want) {
		t.Errorf("pacman -Sl lists %d packages, want %d", got, len(want))
	}
	if err := finishes(t, "remove", func() error { _, err := r.Remove(ctx, []string{"linked", "space"}, Request{}); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, oddNames["space"])); !os.IsNotExist(err) {
		t.Errorf("removed %q is still there: %v", oddNames["space"], err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the target of a linked package was touched: %v", err)
	}
	assertInvariant1(t, r)
}

// TestFIFOAsSignatureOfAdd: add of a package whose .sig is a FIFO reports
// the .sig instead of blocking on it.
func TestFIFOAsSignatureOfAdd(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	p := mkpkg(t, src, "a", "1-1")
	syscall.Mkfifo(p+".sig", 0o644)
	err := finishes(t, "add", func() error { _, err := r.Add(ctx, []string{p}, AddOptions{Mode: Copy}); return err })
	var ue *UnreadableFilesError
	if !errors.As(err, &ue) || len(ue.Problems) != 1 || ue.Problems[0].Path != p+".sig" {
		t.Fatalf("got %v", err)
	}
	if len(registered(t, r)) != 0 {
		t.Fatal("registered")
	}
}

// randomPackage is a package of name whose compressed size is about size
// bytes (its content is random, so it does not compress).
func randomPackage(t *testing.T, dir, name, ver string, size int) string {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: name, Version: ver,
		Files: []pkggen.File{{Path: "usr/share/" + name + "/blob", Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// manyFilesPackage has a long file list, so that its files database entry
// is large.
func manyFilesPackage(t *testing.T, dir, name, ver string, n int) string {
	t.Helper()
	files := make([]pkggen.File, n)
	for i := range files {
		var b [12]byte
		rand.Read(b[:])
		files[i] = pkggen.File{Path: "usr/share/" + name + "/" + itoa(i) + "-" + strings.Map(func(r rune) rune {
			return 'a' + r%26
		}, string(b[:])), Data: []byte{'x'}}
	}
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: name, Version: ver, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mountTmpfs mounts a tmpfs of the given options on a new directory and
// unmounts it when the test ends. Without the right to mount (not root,
// or a container without CAP_SYS_ADMIN) the test is Unavailable: skipped,
// or failed under CI / PACREPO_STRICT.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if errors.Is(err, unix.EPERM) || os.Geteuid() != 0 {
			testutil.Unavailable(t, "mount a tmpfs on %s: %v (needs root with CAP_SYS_ADMIN)", dir, err)
		}
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file at path until the file system is full, then gives
// back free bytes of it.
func fill(t *testing.T, path string, free int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(n-free, 0)); err != nil {
		t.Fatal(err)
	}
}

// leftTemporaries lists our temporary files in dir (not the lock, the
// cache and the indexes, which live there for good).
func leftTemporaries(t *testing.T, r *Repo) []string {
	t.Helper()
	des, err := os.ReadDir(r.dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range des {
		n := d.Name()
		if n == r.names().HistoryDir() {
			// The history is pacrepo's own; a temporary in it is not.
			for _, sub := range []string{"commits", "gen"} {
				hs, _ := os.ReadDir(filepath.Join(r.dir(), n, sub))
				for _, h := range hs {
					if strings.HasPrefix(h.Name(), ".") {
						out = append(out, filepath.Join(n, sub, h.Name()))
					}
				}
			}
			continue
		}
		if strings.HasPrefix(n, ".") && filepath.Join(r.dir(), n) != r.lockPath() && filepath.Join(r.dir(), n) != r.cachePath() &&
			n != r.names().IndexFile() && n != r.names().LinksIndexFile() {
			out = append(out, n)
		}
	}
	return out
}

// TestDiskFull runs out of space while placing an added file and while
// writing the database. Each time: an error naming the file, the previous
// database intact, every registered file present, no temporary file left;
// once space is freed the same command works and check is clean.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "size=2m")
	r := New(Options{DB: newRepo(t).opts.DB, LockTimeout: 20 * time.Second})
	r.opts.DB.Dir = filepath.Join(mnt, "repo")
	os.Mkdir(r.dir(), 0o755)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	filler := filepath.Join(mnt, "filler")
	intact := func(step string, want map[string]string) {
		t.Helper()
		if got := registered(t, r); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: registered %v, want %v", step, got, want)
		}
		assertInvariant1(t, r)
		if left := leftTemporaries(t, r); len(left) > 0 {
			t.Errorf("%s: temporary files left: %q", step, left)
		}
	}
	before := map[string]string{"a": "1-1", "b": "1-1"}

	// 1. The added file does not fit: placement fails.
	big := randomPackage(t, src, "big", "1-1", 256<<10)
	fill(t, filler, 64<<10)
	_, err := r.Add(ctx, []string{big}, AddOptions{Mode: Copy})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), big) {
		t.Errorf("add of a file that does not fit: %v", err)
	}
	intact("after the failed placement", before)
	if _, err := os.Stat(filepath.Join(r.dir(), filepath.Base(big))); !os.IsNotExist(err) {
		t.Errorf("a part of the added file is left: %v", err)
	}
	os.Remove(filler)
	mustAdd(t, r, big)
	before["big"] = "1-1"
	intact("add once space is freed", before)

	// 2. The database write fails: a package with a long file list is in
	// the directory; registering it needs more room than is left.
	many := manyFilesPackage(t, r.dir(), "many", "1-1", 4000)
	fill(t, filler, 16<<10)
	_, err = r.Update(ctx, nil, Request{})
	t.Log(err)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), r.opts.DB.Dir) {
		t.Errorf("update whose database write fails: %v", err)
	}
	intact("after the failed database write", before)
	if _, err := os.Stat(many); err != nil {
		t.Errorf("the unregistered package was touched: %v", err)
	}
	os.Remove(filler)
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	before["many"] = "1-1"
	intact("update once space is freed", before)
	assertClean(t, r)
}

// TestReadOnlyRepository: on a read-only file system every changing
// command fails with an error naming the path and changes nothing;
// status and check still work. Permissions do not stop root, a read-only
// mount does.
func TestReadOnlyRepository(t *testing.T) {
	mnt := mountTmpfs(t, "size=8m")
	r := New(Options{DB: newRepo(t).opts.DB, LockTimeout: 20 * time.Second})
	r.opts.DB.Dir = mnt
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"), mkpkg(t, src, "b", "1-1"))
	mkpkg(t, r.dir(), "a", "2-1")
	if err := unix.Mount("", mnt, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	before := listing(t, mnt)
	for name, op := range map[string]func() error{
		"update": func() error { _, err := r.Update(ctx, nil, Request{}); return err },
		"add": func() error {
			_, err := r.Add(ctx, []string{mkpkg(t, src, "c", "1-1")}, AddOptions{Mode: Copy})
			return err
		},
		"remove": func() error { _, err := r.Remove(ctx, []string{"b"}, Request{}); return err },
		"reset":  func() error { _, err := r.Reset(ctx, Request{}); return err },
		"repair": func() error { _, err := r.Check(ctx, true); return err },
	} {
		err := op()
		if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), mnt) {
			t.Errorf("%s on a read-only repository: %v", name, err)
		}
	}
	if after := listing(t, mnt); !reflect.DeepEqual(before, after) {
		t.Errorf("the read-only repository changed")
	}
	plan, err := r.Status(ctx, nil, Request{})
	if err != nil || len(plan.Actions) == 0 {
		t.Errorf("status on a read-only repository: %v %+v", err, plan)
	}
	rep, err := r.Check(ctx, false)
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Kind != FindUnregistered {
		t.Errorf("check on a read-only repository: %v %+v", err, rep)
	}
	if err := unix.Mount("", mnt, "", unix.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "2-1", "b": "1-1"}) {
		t.Errorf("registered %v", got)
	}
	assertClean(t, r)
}

// TestFileSwappedDuringUpdate replaces a package file again and again
// (atomic renames, same name, two contents) while update runs: an entry
// never mixes the two (its SHA-256 and its description come from the same
// content), and once the file rests, update makes the entry match it.
func TestFileSwappedDuringUpdate(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	variants := map[string]string{} // sha256 -> description
	var paths []string
	for _, desc := range []string{"first content", "second content"} {
		d := filepath.Join(src, desc)
		os.Mkdir(d, 0o755)
		p, err := pkggen.MakePackage(d, pkggen.Spec{Name: "b", Version: "2-1", Desc: desc})
		if err != nil {
			t.Fatal(err)
		}
		variants[fileSHA(t, p)] = desc
		paths = append(paths, p)
	}
	target := filepath.Join(r.dir(), fn("b", "2-1"))
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(r.dir(), ".swap.tmp")
			os.Remove(tmp)
			if err := os.Link(paths[i%2], tmp); err == nil {
				os.Rename(tmp, target)
			}
		}
	}()
	var failed, seen int
	for range 40 {
		if _, err := r.Update(ctx, nil, Request{}); err != nil { // "changed while the command ran"
			failed++
		}
		es, err := r.Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Name == "b" {
				seen++
			}
			if e.Name == "b" && variants[e.SHA256Sum] != e.Desc {
				t.Fatalf("entry b has the SHA-256 of %q but the description %q", variants[e.SHA256Sum], e.Desc)
			}
		}
	}
	close(stop)
	<-stopped
	t.Logf("40 updates while the file was swapped: %d failed, b registered after %d", failed, seen)
	if _, err := r.Update(ctx, nil, Request{}); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, r); got["b"] != "2-1" {
		t.Fatalf("registered %v", got)
	}
	assertInvariant1(t, r)
	assertClean(t, r)
}

// TestWaiterRecoversAfterHolderIsKilled: a writer holds the lock with a
// transaction half done (journal written, a file half placed) and is
// SIGKILLed while another writer waits: the waiter gets the lock, rolls
// the transaction back and does its own work.
func TestWaiterRecoversAfterHolderIsKilled(t *testing.T) {
	r := newRepo(t)
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	cmd := helper(r, "hold", nil)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("child: %q", line)
	}
	// What the holder had done when it died: journal, half a placement.
	half := filepath.Base(fsutil.TempPath(r.dir(), fn("c", "1-1")))
	os.WriteFile(filepath.Join(r.dir(), half), []byte("half a package"), 0o644)
	if err := r.writeJournal(&journal{Version: 1, Command: "add", PID: cmd.Process.Pid, Started: time.Now(),
		Places: []journalPlace{{Final: fn("c", "1-1"), Temp: half, SHA256: "0", Size: 1}},
		After:  []journalEntry{{Name: "c", Filename: fn("c", "1-1"), SHA256: "0"}}}); err != nil {
		t.Fatal(err)
	}
	mkpkg(t, r.dir(), "b", "1-1")
	done := make(chan error, 1)
	var res *Result
	go func() { var err error; res, err = r.Update(ctx, nil, Request{}); done <- err }()
	cmd.Process.Kill()
	cmd.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Recovered, "rolled back the interrupted add") {
		t.Errorf("recovered: %q", res.Recovered)
	}
	if got := registered(t, r); !reflect.DeepEqual(got, map[string]string{"a": "1-1", "b": "1-1"}) {
		t.Errorf("registered %v", got)
	}
	if left := leftTemporaries(t, r); len(left) > 0 {
		t.Errorf("left: %q", left)
	}
	assertClean(t, r)
}

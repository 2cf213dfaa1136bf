package cli_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// watchProcess is one `pacrepo watch --json` process and its events.
type watchProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []map[string]any
	done   chan struct{}
}

var fastWatch = []string{"--settle", "300ms", "--window", "300ms", "--rescan", "2s", "--reject-after", "2s", "--json"}

func startWatchProcess(t *testing.T, pacrepo string, env []string, args ...string) *watchProcess {
	t.Helper()
	w := &watchProcess{done: make(chan struct{})}
	w.cmd = exec.Command(pacrepo, args...)
	w.cmd.Env = env
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	w.cmd.Stderr = &stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = map[string]any{"event": "unparsable", "line": sc.Text()}
			}
			w.mu.Lock()
			w.events = append(w.events, e)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		<-w.done
		w.cmd.Wait()
		if t.Failed() {
			t.Logf("watch events:\n%s\nstderr:\n%s", w.String(), stderr.String())
		}
	})
	return w
}

// stop ends the watch with SIGTERM, which must finish the commit under
// way and exit 0.
func (w *watchProcess) stop(t *testing.T) {
	w.cmd.Process.Signal(syscall.SIGTERM)
	<-w.done
	if err := w.cmd.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v", err)
	}
}

// kill ends the watch with SIGKILL.
func (w *watchProcess) kill() {
	w.cmd.Process.Kill()
	<-w.done
	w.cmd.Wait()
}

// writes counts the commits that wrote the database.
func (w *watchProcess) writes() (writes, taken int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e["event"] == "commit" {
			if e["written"] == true {
				writes++
			}
			if l, ok := e["taken"].([]any); ok {
				taken += len(l)
			}
		}
	}
	return writes, taken
}

func (w *watchProcess) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, e := range w.events {
		data, _ := json.Marshal(e)
		if len(data) > 400 {
			data = append(data[:400], "..."...)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

// farmUpload is one package a builder uploads.
type farmUpload struct {
	name     string
	file     string // base name in the inbox
	data     []byte
	complete bool
	doneAt   time.Time
}

// makeUploads makes n packages, some truncated for good and some garbage
// under a package name, in the order of rng.
func makeUploads(t *testing.T, rng *rand.Rand, prefix string, n int) []*farmUpload {
	t.Helper()
	dir := t.TempDir()
	var out []*farmUpload
	for i := range n {
		name := fmt.Sprintf("%s%03d", prefix, i)
		path, err := pkggen.MakePackage(dir, pkggen.Spec{Name: name, Version: "1-1", NumFiles: 1 + rng.IntN(20), FileSize: 1 + rng.IntN(30000)})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		u := &farmUpload{name: name, file: filepath.Base(path), data: data, complete: true}
		switch rng.IntN(25) {
		case 0, 1: // truncated for good
			u.data, u.complete = data[:rng.IntN(len(data))], false
		case 2: // garbage
			u.data = make([]byte, 200+rng.IntN(4000))
			for i := range u.data {
				u.data[i] = byte(rng.Uint32())
			}
			u.complete = false
		}
		out = append(out, u)
	}
	return out
}

// uploadInChunks writes u into dir as a builder would (testutil.Upload)
// and records when it was complete.
func uploadInChunks(rng *rand.Rand, dir string, u *farmUpload) error {
	if err := testutil.Upload(rng, filepath.Join(dir, u.file), u.data, 16384, 30*time.Millisecond); err != nil {
		return err
	}
	u.doneAt = time.Now()
	return nil
}

// uploadAll runs uploaders builders at once over uploads.
func uploadAll(t *testing.T, seed uint64, builders int, dir string, uploads []*farmUpload) {
	var wg sync.WaitGroup
	for b := range builders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(100+b)))
			for i := b; i < len(uploads); i += builders {
				if err := uploadInChunks(rng, dir, uploads[i]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// registrationWatcher reads the database again and again: every entry
// must name a complete file of the repository whose bytes are those of
// the upload, and it records when each name first appeared.
type registrationWatcher struct {
	db      string
	dir     string
	uploads map[string]*farmUpload
	mu      sync.Mutex
	seen    map[string]time.Time
	err     error
	stop    chan struct{}
	done    chan struct{}
}

func watchRegistrations(db string, uploads []*farmUpload) *registrationWatcher {
	rw := &registrationWatcher{db: db, dir: filepath.Dir(db), uploads: map[string]*farmUpload{}, seen: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, u := range uploads {
		rw.uploads[u.name] = u
	}
	go func() {
		defer close(rw.done)
		for {
			select {
			case <-rw.stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			if err := rw.look(); err != nil {
				rw.mu.Lock()
				rw.err = err
				rw.mu.Unlock()
				return
			}
		}
	}()
	return rw
}

func (rw *registrationWatcher) look() error {
	es, err := repodb.Read(rw.db, repodb.ReadOptions{})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", rw.db, err)
	}
	for _, e := range es {
		rw.mu.Lock()
		_, seen := rw.seen[e.Name]
		rw.mu.Unlock()
		if seen {
			continue
		}
		u := rw.uploads[e.Name]
		data, err := os.ReadFile(filepath.Join(rw.dir, e.Filename))
		switch {
		case u == nil:
			// Not an upload of this test (another writer's).
		case !u.complete:
			return fmt.Errorf("%s is registered, but its upload was not complete", e.Name)
		case err != nil || sha256Hex(data) != e.SHA256Sum || sha256Hex(u.data) != e.SHA256Sum:
			return fmt.Errorf("entry %s names %s, which is not the complete upload (%v)", e.Name, e.Filename, err)
		}
		rw.mu.Lock()
		rw.seen[e.Name] = time.Now()
		rw.mu.Unlock()
	}
	return nil
}

// end stops the reader and returns its first error and the longest time
// from an upload's completion to its registration.
func (rw *registrationWatcher) end() (time.Duration, error) {
	close(rw.stop)
	<-rw.done
	var slowest time.Duration
	for name, at := range rw.seen {
		if u := rw.uploads[name]; u != nil && !u.doneAt.IsZero() {
			slowest = max(slowest, at.Sub(u.doneAt))
		}
	}
	return slowest, rw.err
}

func (rw *registrationWatcher) registered() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return len(rw.seen)
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func completeCount(uploads []*farmUpload) int {
	n := 0
	for _, u := range uploads {
		if u.complete {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || t.Failed() {
			t.Fatalf("%s: not after %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertRejected checks that every broken upload is in rejected/ with its
// reason and the inbox holds no package file any more.
func assertRejected(t *testing.T, inbox string, uploads []*farmUpload) {
	t.Helper()
	for _, u := range uploads {
		_, err := os.Stat(filepath.Join(inbox, "rejected", u.file+".reason"))
		if u.complete && err == nil {
			t.Errorf("complete upload %s was rejected", u.file)
		}
		if !u.complete && err != nil {
			t.Errorf("broken upload %s: no reason in rejected/: %v", u.file, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(inbox, "*.pkg.tar*")); len(left) > 0 {
		t.Errorf("left in the inbox: %v", left)
	}
}

func pacrepoCheck(t *testing.T, pacrepo string, env []string, db string) {
	t.Helper()
	if out, err := runPacrepo(context.Background(), pacrepo, env, "--repo", db, "check"); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
}

// farmSetup is what every watch test starts from: the command, an
// isolated environment, a seed (logged for replay) with this test's
// stream of it, and the paths of an inbox (not created) and a
// repository's database.
type farmSetup struct {
	pacrepo   string
	env       []string
	seed      uint64
	rng       *rand.Rand
	base      string
	inbox, db string
}

func newFarmSetup(t *testing.T, stream uint64) *farmSetup {
	t.Helper()
	f := &farmSetup{pacrepo: pacrepoCommand(t), env: isolatedEnv(t), seed: testutil.Seed(t, "PACREPO_WATCH_SEED"), base: t.TempDir()}
	f.rng = rand.New(rand.NewPCG(f.seed, stream))
	f.inbox, f.db = filepath.Join(f.base, "inbox"), filepath.Join(f.base, "repo", "farm.db.tar.zst")
	return f
}

// watchArgs are the arguments of a fast watch of the inbox into the
// repository.
func (f *farmSetup) watchArgs() []string {
	return append([]string{"--repo", f.db, "watch", "--inbox", f.inbox}, fastWatch...)
}

// settleBurst waits until every complete upload is registered and every
// broken one rejected, stops the watch with SIGTERM, and checks the inbox
// and the repository. It returns the slowest time from an upload's
// completion to its registration.
func settleBurst(t *testing.T, w *watchProcess, rw *registrationWatcher, inbox string, uploads []*farmUpload, pacrepo string, env []string, db string) time.Duration {
	t.Helper()
	complete := completeCount(uploads)
	waitFor(t, "every complete upload registered", 120*time.Second, func() bool { return rw.registered() == complete })
	slowest, err := rw.end()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every broken upload rejected", 60*time.Second, func() bool {
		reasons, _ := filepath.Glob(filepath.Join(inbox, "rejected", "*.reason"))
		return len(reasons) == len(uploads)-complete
	})
	w.stop(t)
	assertRejected(t, inbox, uploads)
	pacrepoCheck(t, pacrepo, env, db)
	return slowest
}

// TestWatchFarm: 8 builders upload 500 packages at once, in chunks with
// pauses, some truncated for good and some garbage. Every complete
// package is registered soon after it completes, no entry ever names an
// incomplete file, broken uploads are rejected with their reason, the
// burst costs few database writes (both held to the README's figures,
// with a margin), and real pacman reads the result.
func TestWatchFarm(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	f := newFarmSetup(t, 1)
	pacrepo, env, seed, inbox, db := f.pacrepo, f.env, f.seed, f.inbox, f.db
	uploads := makeUploads(t, f.rng, "pkg", 500)
	w := startWatchProcess(t, pacrepo, env, f.watchArgs()...)
	waitFor(t, "watch creates the inbox", 30*time.Second, func() bool { _, err := os.Stat(inbox); return err == nil })
	rw := watchRegistrations(db, uploads)
	start := time.Now()
	uploadAll(t, seed, 8, inbox, uploads)
	uploaded := time.Since(start)
	complete := completeCount(uploads)
	slowest := settleBurst(t, w, rw, inbox, uploads, pacrepo, env, db)
	writes, taken := w.writes()
	t.Logf("%d uploads (%d complete) by 8 builders over %s: %d database writes; slowest registration %s after its upload completed",
		len(uploads), complete, uploaded.Round(time.Millisecond), writes, slowest.Round(time.Millisecond))
	if taken != complete {
		t.Errorf("the commits took %d uploads, want %d", taken, complete)
	}
	// The README quotes this burst: 3 database writes, every package
	// registered within 1.5 s of its upload completing. The writes follow
	// from grouping alone, not from the machine's speed: twice the README's
	// count still fails when grouping breaks (20 uploads a write gave 25
	// writes). The delay follows the machine's load (9 s was seen with the
	// race detector on a machine running three test suites at once), so it
	// is bounded as liveness only, and measured as a figure by the log line
	// above; a timed bound that fails on a slow machine proves nothing.
	const readmeWrites, liveness = 3, 30 * time.Second
	if most := 2 * readmeWrites; writes > most {
		t.Errorf("%d complete uploads cost %d database writes, more than %d: not grouped as the README says", complete, writes, most)
	}
	if slowest > liveness {
		t.Errorf("a package was registered %s after its upload completed (bound %s)", slowest, liveness)
	}
	pm := testutil.NewPacman(t, map[string]string{"farm": filepath.Dir(db)})
	pm.MustRun("-Sy")
	if got := pm.Sync("farm"); len(got) != complete {
		t.Errorf("pacman -Sl lists %d packages, want %d", len(got), complete)
	}
}

// TestWatchSIGKILL: watch killed with SIGKILL at random moments of a
// burst and started again loses nothing: every complete upload ends up
// registered, and check finds nothing to repair.
func TestWatchSIGKILL(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	f := newFarmSetup(t, 2)
	pacrepo, env, seed, rng, inbox, db := f.pacrepo, f.env, f.seed, f.rng, f.inbox, f.db
	os.MkdirAll(inbox, 0o755)
	uploads := makeUploads(t, rng, "k", 200)
	rw := watchRegistrations(db, uploads)
	args := f.watchArgs()
	w := startWatchProcess(t, pacrepo, env, args...)
	done := make(chan struct{})
	go func() {
		uploadAll(t, seed, 4, inbox, uploads)
		close(done)
	}()
	kills := 0
	runs := []*watchProcess{w}
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-time.After(time.Duration(200+rng.IntN(800)) * time.Millisecond):
			w.kill()
			kills++
			w = startWatchProcess(t, pacrepo, env, args...)
			runs = append(runs, w)
		}
	}
	settleBurst(t, w, rw, inbox, uploads, pacrepo, env, db)
	t.Logf("%d uploads, watch killed %d times: all %d complete ones registered", len(uploads), kills, completeCount(uploads))
	// What a killed run left half done is finished quietly: no run warns,
	// rejects a complete upload, or calls one the repository holds a
	// problem. (An upload written in place may be seen incomplete on a
	// loaded machine: that problem is real.)
	complete := map[string]bool{}
	for _, u := range uploads {
		if u.complete {
			complete[filepath.Join(inbox, u.file)] = true
		}
	}
	for i, run := range runs {
		run.mu.Lock()
		for _, e := range run.events {
			path, _ := e["path"].(string)
			reason, _ := e["reason"].(string)
			if e["event"] == "warning" || e["event"] == "unparsable" || e["event"] == "rejected" && complete[path] ||
				e["event"] == "problem" && strings.Contains(reason, "the repository holds this very file") {
				t.Errorf("run %d of %d: %v", i+1, len(runs), e)
			}
		}
		run.mu.Unlock()
	}
}

// TestWatchWithOtherWriters: watch commits uploads while other processes
// run pacrepo add and remove on the same repository; the lock serialises
// them, and every change of each survives.
func TestWatchWithOtherWriters(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	f := newFarmSetup(t, 3)
	pacrepo, env, seed, rng, inbox, db := f.pacrepo, f.env, f.seed, f.rng, f.inbox, f.db
	os.MkdirAll(inbox, 0o755)
	var uploads []*farmUpload
	for _, u := range makeUploads(t, rng, "w", 80) {
		if u.complete {
			uploads = append(uploads, u)
		}
	}
	w := startWatchProcess(t, pacrepo, env, f.watchArgs()...)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		uploadAll(t, seed, 4, inbox, uploads)
	}()
	// Two other writers: each adds its own packages one at a time and
	// removes every second one again.
	src := t.TempDir()
	kept := map[string]bool{}
	var mu sync.Mutex
	for writer := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				name := fmt.Sprintf("other%d-%02d", writer, i)
				p, err := pkggen.MakePackage(src, pkggen.Spec{Name: name, Version: "1-1"})
				if err != nil {
					t.Error(err)
					return
				}
				if out, err := runPacrepo(context.Background(), pacrepo, env, "--repo", db, "add", p); err != nil {
					t.Errorf("add %s: %v\n%s", name, err, out)
					return
				}
				if i%2 == 1 {
					if out, err := runPacrepo(context.Background(), pacrepo, env, "--repo", db, "remove", name); err != nil {
						t.Errorf("remove %s: %v\n%s", name, err, out)
						return
					}
					continue
				}
				mu.Lock()
				kept[name] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := len(uploads) + len(kept)
	waitFor(t, "every upload and every other writer's package registered", 120*time.Second, func() bool {
		es, err := repodb.Read(db, repodb.ReadOptions{})
		return err == nil && len(es) == want
	})
	w.stop(t)
	es, _ := repodb.Read(db, repodb.ReadOptions{})
	names := map[string]bool{}
	for _, e := range es {
		names[e.Name] = true
	}
	for _, u := range uploads {
		if !names[u.name] {
			t.Errorf("upload %s is not registered", u.name)
		}
	}
	for name := range kept {
		if !names[name] {
			t.Errorf("%s, added by another writer, is not registered", name)
		}
	}
	pacrepoCheck(t, pacrepo, env, db)
}

// TestWatchInboxOnAnotherFileSystem: uploads on a tmpfs are copied into
// the repository (a rename cannot cross file systems) with the same
// safety, and leave the inbox.
func TestWatchInboxOnAnotherFileSystem(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	f := newFarmSetup(t, 4)
	var shm, tmp syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if syscall.Statfs("/dev/shm", &shm) != nil || shm.Type != tmpfsMagic || syscall.Statfs(f.base, &tmp) != nil || tmp.Type == tmpfsMagic {
		t.Skip("needs /dev/shm on a tmpfs and the test directory elsewhere")
	}
	inbox, err := os.MkdirTemp("/dev/shm", "pacrepo-inbox-")
	if err != nil {
		t.Skipf("/dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(inbox) })
	f.inbox = inbox
	uploads := makeUploads(t, f.rng, "t", 40)
	rw := watchRegistrations(f.db, uploads)
	w := startWatchProcess(t, f.pacrepo, f.env, f.watchArgs()...)
	uploadAll(t, f.seed, 4, inbox, uploads)
	settleBurst(t, w, rw, inbox, uploads, f.pacrepo, f.env, f.db)
}

package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// fastSettings keep the tests short; the rules are the same.
var fastSettings = Settings{Settle: 150 * time.Millisecond, Window: 100 * time.Millisecond, Rescan: time.Second, RejectAfter: time.Second}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) count(kind EventKind, written bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == kind && (kind != EventCommit || e.Outcome.Written == written) {
			n++
		}
	}
	return n
}

// taken counts the uploads the commits took.
func (l *eventLog) taken() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.Kind == EventCommit {
			n += len(e.Outcome.Taken)
		}
	}
	return n
}

// longestCommit is the longest a commit took.
func (l *eventLog) longestCommit() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, e := range l.events {
		if e.Kind == EventCommit {
			longest = max(longest, e.Duration)
		}
	}
	return longest
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.events {
		fmt.Fprintf(&b, "%s %s %s %v", e.Kind, e.Path, e.Reason, e.Err)
		if e.Outcome != nil {
			fmt.Fprintf(&b, " written=%v added=%d taken=%d failed=%d", e.Outcome.Written, len(e.Outcome.Added), len(e.Outcome.Taken), len(e.Outcome.Failed))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// startWatch runs a watch of inbox into the repository r until the test
// ends.
func startWatch(t *testing.T, r *repo.Repo, inbox string, set Settings, target Target) *eventLog {
	t.Helper()
	log := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if target == nil {
		target = AddTarget{Repo: r}
	}
	go func() {
		done <- Run(ctx, Options{
			Dir:         inbox,
			Names:       layout.Names{Repo: r.Options().DB.Name},
			RejectedDir: filepath.Join(inbox, "rejected"),
			Load:        func() (Target, Settings, error) { return target, set, nil },
			OnEvent:     log.add,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	return log
}

func newTestRepo(t *testing.T) *repo.Repo {
	return repo.New(repo.Options{DB: repodb.Location{Dir: t.TempDir(), Name: "farm", Ext: ".tar.zst"}, LockTimeout: time.Minute})
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// TestWatchBurst: uploaders write packages into the inbox at once, in
// chunks with pauses, some truncated for good and some garbage. Every
// complete package is registered within a bound after it completes; no
// entry ever names anything but a complete file; broken uploads are
// rejected with their reason; the burst costs far fewer database writes
// than uploads.
func TestWatchBurst(t *testing.T) {
	seed := testutil.Seed(t, "PACREPO_WATCH_SEED")
	const uploaders, each = 4, 20
	r := newTestRepo(t)
	inbox := t.TempDir()
	src := t.TempDir()
	log := startWatch(t, r, inbox, fastSettings, nil)

	type want struct {
		sha      string
		complete bool
		doneAt   time.Time
	}
	var mu sync.Mutex
	wants := map[string]*want{} // package name -> upload
	var wg sync.WaitGroup
	for u := range uploaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(u)))
			os.MkdirAll(filepath.Join(src, strconv.Itoa(u)), 0o755)
			for i := range each {
				name := fmt.Sprintf("u%d-p%02d", u, i)
				path, err := pkggen.MakePackage(filepath.Join(src, strconv.Itoa(u)), pkggen.Spec{Name: name, Version: "1-1", NumFiles: 1 + rng.IntN(30), FileSize: 1 + rng.IntN(20000)})
				if err != nil {
					t.Error(err)
					return
				}
				data, _ := os.ReadFile(path)
				w := &want{complete: true}
				switch rng.IntN(10) {
				case 0: // truncated for good
					data = data[:rng.IntN(len(data))]
					w.complete = false
				case 1: // garbage under a package name
					data = make([]byte, 100+rng.IntN(5000))
					for i := range data {
						data[i] = byte(rng.Uint32())
					}
					w.complete = false
				}
				w.sha = sha(data)
				if err := testutil.Upload(rng, filepath.Join(inbox, filepath.Base(path)), data, 4096, 40*time.Millisecond); err != nil {
					t.Error(err)
					return
				}
				w.doneAt = time.Now()
				mu.Lock()
				wants[name] = w
				mu.Unlock()
			}
		}()
	}
	// Meanwhile a reader checks, again and again, that every entry names a
	// complete file of the repository.
	stop := make(chan struct{})
	registeredAt := map[string]time.Time{}
	var readerErr error
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			es, err := r.Entries(context.Background())
			if err != nil {
				if errors.As(err, new(*repo.NoDatabaseError)) {
					continue
				}
				readerErr = err
				return
			}
			for _, e := range es {
				if _, seen := registeredAt[e.Name]; seen {
					continue
				}
				data, err := os.ReadFile(filepath.Join(r.Options().DB.Dir, e.Filename))
				if err != nil || sha(data) != e.SHA256Sum {
					readerErr = fmt.Errorf("entry %s names %s, which is not its complete file (%v)", e.Name, e.Filename, err)
					return
				}
				registeredAt[e.Name] = time.Now()
			}
		}
	}()
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for {
		es, err := r.Entries(context.Background())
		complete := 0
		for _, w := range wants {
			if w.complete {
				complete++
			}
		}
		// (Not a reason still being written under its temporary name.)
		rejected, _ := filepath.Glob(filepath.Join(inbox, "rejected", "[^.]*.reason"))
		// The database is the commit point: the commit that registers the
		// last upload then removes it from the inbox, records its
		// generation and clears its journal, so the burst is over when the
		// inbox is empty and the journal gone.
		left, _ := filepath.Glob(filepath.Join(inbox, "*.pkg.tar*"))
		_, journalErr := os.Lstat(filepath.Join(r.Options().DB.Dir, layout.Names{Repo: r.Options().DB.Name}.JournalFile()))
		if err == nil && len(es) == complete && len(rejected) == len(wants)-complete && len(left) == 0 && errors.Is(journalErr, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) || t.Failed() {
			t.Fatalf("after 60s: %d of %d registered, %d of %d rejected (%v)\n%s", len(es), complete, len(rejected), len(wants)-complete, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-readerDone
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	es, _ := r.Entries(context.Background())
	var slowest time.Duration
	for _, e := range es {
		w := wants[e.Name]
		if w == nil || !w.complete || w.sha != e.SHA256Sum {
			t.Errorf("%s is registered, but its upload was not complete", e.Name)
			continue
		}
		if at, ok := registeredAt[e.Name]; ok {
			slowest = max(slowest, at.Sub(w.doneAt))
		}
	}
	for name, w := range wants {
		if w.complete {
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(inbox, "rejected", name+"-*.pkg.tar.zst.reason"))
		if len(matches) != 1 {
			t.Errorf("broken upload %s: %d reasons in rejected/", name, len(matches))
		}
	}
	left, _ := filepath.Glob(filepath.Join(inbox, "*.pkg.tar*"))
	if len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	writes := log.count(EventCommit, true)
	var first, last time.Time
	for _, w := range wants {
		if first.IsZero() || w.doneAt.Before(first) {
			first = w.doneAt
		}
		if w.doneAt.After(last) {
			last = w.doneAt
		}
	}
	t.Logf("%d uploads (%d complete) in %s cost %d database writes; slowest registration %s after its upload completed; longest commit %s",
		len(wants), len(es), last.Sub(first).Round(time.Millisecond), writes, slowest.Round(time.Millisecond), log.longestCommit().Round(time.Millisecond))
	// Group commit: at most one write per window while uploads complete,
	// however fast or slow the machine.
	if most := int(last.Sub(first)/fastSettings.Window) + 2; writes > most {
		t.Errorf("%d uploads over %s cost %d database writes, more than one per window (%d)\n%s", len(wants), last.Sub(first), writes, most, log)
	}
	// Liveness: a complete upload waits for the commit under way and its
	// own, each as long as this machine makes a commit (a loaded machine
	// with the race detector took 26 s for what an idle one does in 2).
	longest := log.longestCommit()
	if bound := 20*time.Second + 3*longest; slowest > bound {
		t.Errorf("a package was registered %s after it completed (bound %s: 20 s and 3 times the longest commit, %s)", slowest, bound, longest)
	}
	rep, err := r.Check(context.Background(), false)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("check: %v %+v", err, rep)
	}
}

// flakyTarget fails its first commits, as a full disk or an unreadable
// database would.
type flakyTarget struct {
	failures int
	calls    int
	inner    Target
}

func (f *flakyTarget) Commit(ctx context.Context, files []string) (Outcome, error) {
	f.calls++
	if f.calls <= f.failures {
		return Outcome{}, errors.New("no space left on device")
	}
	return f.inner.Commit(ctx, files)
}

// TestWatchKeepsRunning: a failing commit is reported and retried after a
// back-off; nothing is lost and nothing is rejected because of it.
func TestWatchKeepsRunning(t *testing.T) {
	r := newTestRepo(t)
	inbox := t.TempDir()
	src := t.TempDir()
	target := &flakyTarget{failures: 2, inner: AddTarget{Repo: r}}
	log := startWatch(t, r, inbox, fastSettings, target)
	p, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "a", Version: "1-1"})
	os.Rename(p, filepath.Join(inbox, filepath.Base(p)))
	deadline := time.Now().Add(30 * time.Second)
	for log.count(EventCommit, true) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("never committed:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := log.count(EventError, false); n != 2 {
		t.Errorf("%d error events, want 2:\n%s", n, log)
	}
	if n := log.count(EventRejected, false); n != 0 {
		t.Errorf("an upload was rejected because the commit failed:\n%s", log)
	}
	log.mu.Lock()
	for _, e := range log.events {
		if e.Kind == EventError && e.RetryIn <= 0 {
			t.Errorf("error event without a back-off: %+v", e)
		}
	}
	log.mu.Unlock()
}

// TestWatchRefusesOlder: an upload older than the registered version, and
// a different file under a name the repository holds, are rejected at
// once with the reason; the registered packages stay.
func TestWatchRefusesOlder(t *testing.T) {
	r := newTestRepo(t)
	src := t.TempDir()
	newer, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "a", Version: "2-1"})
	taken, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "b", Version: "1-1"})
	if _, err := r.Add(context.Background(), []string{newer, taken}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	inbox := t.TempDir()
	log := startWatch(t, r, inbox, fastSettings, nil)
	older, _ := pkggen.MakePackage(t.TempDir(), pkggen.Spec{Name: "a", Version: "1-1"})
	other, _ := pkggen.MakePackage(t.TempDir(), pkggen.Spec{Name: "b", Version: "1-1", NumFiles: 7})
	os.Rename(older, filepath.Join(inbox, filepath.Base(older)))
	os.Rename(other, filepath.Join(inbox, filepath.Base(other)))
	deadline := time.Now().Add(30 * time.Second)
	for log.count(EventRejected, false) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("not rejected:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, f := range []string{older, other} {
		reason, err := os.ReadFile(filepath.Join(inbox, "rejected", filepath.Base(f)+".reason"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", filepath.Base(f), strings.SplitN(string(reason), "\n", 2)[0])
	}
	es, _ := r.Entries(context.Background())
	if len(es) != 2 || es[0].Version != "2-1" {
		t.Fatalf("registered %+v", es)
	}
}

// TestWatchGroupsABurst: uploads that complete together cost one database
// write per window, not one each.
func TestWatchGroupsABurst(t *testing.T) {
	r := newTestRepo(t)
	inbox := t.TempDir()
	src := t.TempDir()
	const n = 150
	var paths []string
	for i := range n {
		p, err := pkggen.MakePackage(src, pkggen.Spec{Name: fmt.Sprintf("p%03d", i), Version: "1-1"})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	log := startWatch(t, r, inbox, fastSettings, nil)
	start := time.Now()
	for _, p := range paths {
		if err := os.Rename(p, filepath.Join(inbox, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if log.taken() == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d taken after 60s\n%s", log.taken(), n, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if es, err := r.Entries(context.Background()); err != nil || len(es) != n {
		t.Fatalf("%d entries (%v)", len(es), err)
	}
	writes := log.count(EventCommit, true)
	t.Logf("%d uploads completed within %s: %d database writes", n, took.Round(time.Millisecond), writes)
	if most := int(took/fastSettings.Window) + 2; writes > most {
		t.Errorf("%d uploads within %s cost %d database writes (at most %d)\n%s", n, took, writes, most, log)
	}
}

// TestWatchReload: a reload takes the new settings and target; one that
// fails keeps what is in use and says so.
func TestWatchReload(t *testing.T) {
	r := newTestRepo(t)
	inbox := t.TempDir()
	log := &eventLog{}
	reload := make(chan struct{})
	var mu sync.Mutex
	loads := 0
	slow := Settings{Settle: time.Hour, Window: time.Hour, Rescan: time.Second, RejectAfter: time.Hour}
	load := func() (Target, Settings, error) {
		mu.Lock()
		defer mu.Unlock()
		loads++
		switch loads {
		case 1:
			return AddTarget{Repo: r}, slow, nil
		case 2:
			return nil, Settings{}, errors.New("bad configuration")
		}
		return AddTarget{Repo: r}, fastSettings, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{Dir: inbox, Names: layout.Names{Repo: "farm"}, RejectedDir: filepath.Join(inbox, "rejected"),
			Load: load, Reload: reload, OnEvent: log.add})
	}()
	p, _ := pkggen.MakePackage(t.TempDir(), pkggen.Spec{Name: "a", Version: "1-1"})
	os.Rename(p, filepath.Join(inbox, filepath.Base(p)))
	time.Sleep(300 * time.Millisecond)
	if log.taken() != 0 {
		t.Fatal("committed before its (hour-long) settle time")
	}
	reload <- struct{}{} // fails: the slow settings stay
	reload <- struct{}{} // the fast settings
	deadline := time.Now().Add(30 * time.Second)
	for log.taken() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not committed after the reload:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var reloads []string
	log.mu.Lock()
	for _, e := range log.events {
		if e.Kind == EventReload {
			reloads = append(reloads, fmt.Sprint(e.Err))
		}
	}
	log.mu.Unlock()
	if len(reloads) != 2 || !strings.Contains(reloads[0], "bad configuration") || reloads[1] != "<nil>" {
		t.Fatalf("reload events %q", reloads)
	}
}

// TestWatchRepositoryDirectory: without an inbox, what arrives in the
// repository directory is registered as update would; a broken file is
// reported and left where it is, never moved.
func TestWatchRepositoryDirectory(t *testing.T) {
	seed := testutil.Seed(t, "PACREPO_WATCH_SEED")
	rng := rand.New(rand.NewPCG(seed, 9))
	r := newTestRepo(t)
	dir := r.Options().DB.Dir
	seedPkg, _ := pkggen.MakePackage(t.TempDir(), pkggen.Spec{Name: "first", Version: "1-1"})
	if _, err := r.Add(context.Background(), []string{seedPkg}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Options{Dir: dir, Names: layout.Names{Repo: "farm"},
			Load:    func() (Target, Settings, error) { return UpdateTarget{Repo: r}, fastSettings, nil },
			OnEvent: log.add})
	}()
	src := t.TempDir()
	var good []string
	for i := range 10 {
		p, _ := pkggen.MakePackage(src, pkggen.Spec{Name: fmt.Sprintf("d%d", i), Version: "1-1", NumFiles: 5, FileSize: 5000})
		data, _ := os.ReadFile(p)
		if err := testutil.Upload(rng, filepath.Join(dir, filepath.Base(p)), data, 4096, 40*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		good = append(good, fmt.Sprintf("d%d", i))
	}
	broken := filepath.Join(dir, "broken-1-1-x86_64.pkg.tar.zst")
	os.WriteFile(broken, []byte("not a package"), 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for {
		es, _ := r.Entries(context.Background())
		if len(es) == 11 && strings.Contains(log.String(), "(left where it is)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries after 30s:\n%s", len(es), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(broken); err != nil {
		t.Fatalf("the broken file of the repository directory was moved: %v", err)
	}
	if !strings.Contains(log.String(), "(left where it is)") {
		t.Errorf("no event says the broken file stays:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(dir, "rejected")); err == nil {
		t.Error("a rejected directory was made in the repository directory")
	}
}

// TestWatchSignatures: with signatures required, a package waits for its
// .sig, whichever comes first, and moves in with it; a package whose .sig
// is bad (another key) is rejected with the reason, .sig and all.
func TestWatchSignatures(t *testing.T) {
	key := testutil.NewPGPKey(t, "packager")
	stranger := testutil.NewPGPKey(t, "stranger")
	keyring, err := signature.LoadKeyring([]string{key.Keyring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := repo.New(repo.Options{DB: repodb.Location{Dir: t.TempDir(), Name: "farm", Ext: ".tar.zst"}, LockTimeout: time.Minute,
		RequireSignature: true, Keyring: keyring})
	inbox := t.TempDir()
	set := fastSettings
	set.RejectAfter = 3 * time.Second // far beyond the .sig's delay, on any machine
	log := startWatch(t, r, inbox, set, nil)
	src := t.TempDir()
	late, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "late", Version: "1-1"})
	early, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "early", Version: "1-1"})
	forged, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "forged", Version: "1-1"})
	key.SignFile(t, late)
	key.SignFile(t, early)
	stranger.SignFile(t, forged)
	move := func(p string) {
		if err := os.Rename(p, filepath.Join(inbox, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	move(early + ".sig")
	move(early)
	move(forged + ".sig")
	move(forged)
	move(late)
	time.Sleep(4 * fastSettings.Settle)
	if es, _ := r.Entries(context.Background()); len(es) > 1 {
		t.Fatalf("registered before its signature came: %+v", es)
	}
	move(late + ".sig")
	deadline := time.Now().Add(30 * time.Second)
	for {
		es, _ := r.Entries(context.Background())
		if len(es) == 2 && log.count(EventRejected, false) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries:\n%s", len(es), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []string{early, late} {
		if _, err := os.Stat(filepath.Join(r.Options().DB.Dir, filepath.Base(p)+".sig")); err != nil {
			t.Errorf("the .sig did not move in: %v", err)
		}
	}
	reason, err := os.ReadFile(filepath.Join(inbox, "rejected", filepath.Base(forged)+".reason"))
	if err != nil || !strings.Contains(string(reason), "signature") {
		t.Errorf("forged: %q %v", reason, err)
	}
	if _, err := os.Stat(filepath.Join(inbox, "rejected", filepath.Base(forged)+".sig")); err != nil {
		t.Errorf("the forged .sig was not moved with its package: %v", err)
	}
	left, _ := os.ReadDir(inbox)
	left = slices.DeleteFunc(left, func(d os.DirEntry) bool { return d.Name() == layout.WatchLockFile })
	if len(left) != 1 {
		t.Errorf("left in the inbox: %v", left)
	}
}

// TestWatchOnePerDirectory: a second watch of a directory refuses to start
// and names the first (pid, host, start time).
func TestWatchOnePerDirectory(t *testing.T) {
	r := newTestRepo(t)
	inbox := t.TempDir()
	log := startWatch(t, r, inbox, fastSettings, nil)
	deadline := time.Now().Add(30 * time.Second)
	for log.count(EventStart, false) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the first watch did not start:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return Run(ctx, Options{Dir: inbox, Names: layout.Names{Repo: "farm"}, RejectedDir: filepath.Join(inbox, "rejected"),
			Load: func() (Target, Settings, error) { return AddTarget{Repo: r}, fastSettings, nil }})
	}
	err := second()
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("a second watch of the inbox: %v, want a *BusyError", err)
	}
	host, _ := os.Hostname()
	if want := fmt.Sprintf("pid %d on %s, watching since ", os.Getpid(), host); !strings.Contains(err.Error(), want) {
		t.Errorf("the refusal %q does not name the first watch (%q)", err, want)
	}
}

// TestWatchNotUploads: what is not a regular file is refused at once with
// what it is, never followed nor opened: a symbolic link to a package the
// watch may read (a builder must not publish it), one to nothing (the
// reason must not tell the two apart), a FIFO (opening it would block),
// and an upload whose .sig is a link. A good upload beside them is added.
func TestWatchNotUploads(t *testing.T) {
	r := newTestRepo(t)
	inbox := t.TempDir()
	src := t.TempDir()
	secret, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "secret", Version: "1-1"})
	good, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "good", Version: "1-1"})
	sigLinked, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "siglinked", Version: "1-1"})
	log := startWatch(t, r, inbox, fastSettings, nil)
	in := func(name string) string { return filepath.Join(inbox, name) }
	const linked, dangling, fifo = "linked-1-1-x86_64.pkg.tar.zst", "dangling-1-1-x86_64.pkg.tar.zst", "fifo-1-1-x86_64.pkg.tar.zst"
	for _, err := range []error{
		os.Symlink(secret, in(linked)),
		os.Symlink(filepath.Join(src, "nothing-1-1-x86_64.pkg.tar.zst"), in(dangling)),
		syscall.Mkfifo(in(fifo), 0o644),
		os.Rename(good, in(filepath.Base(good))),
		os.Symlink(secret, in(filepath.Base(sigLinked)+".sig")),
		os.Rename(sigLinked, in(filepath.Base(sigLinked))),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		linked:                   "a symbolic link, not an upload",
		dangling:                 "a symbolic link, not an upload",
		fifo:                     "a named pipe (FIFO), not an upload",
		filepath.Base(sigLinked): "a symbolic link, not a signature",
	}
	deadline := time.Now().Add(30 * time.Second)
	for log.count(EventRejected, false) < len(want) || log.taken() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not rejected or not added:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, reason := range want {
		data, err := os.ReadFile(filepath.Join(inbox, "rejected", name+".reason"))
		if got, _, _ := strings.Cut(string(data), "\n"); err != nil || got != reason {
			t.Errorf("%s: reason %q (%v), want %q", name, got, err, reason)
		}
	}
	es, err := r.Entries(context.Background())
	if err != nil || len(es) != 1 || es[0].Name != "good" {
		t.Fatalf("registered %+v (%v), want good only", es, err)
	}
	if fi, err := os.Lstat(filepath.Join(inbox, "rejected", linked)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was not moved as a link: %v", err)
	}
}

// TestWatchAfterAKilledCommit: a watch killed after its commit reached the
// disk, before it removed the moved upload from the inbox, leaves the
// upload there and the journal saying so. The next watch finishes the
// move quietly: the upload is taken, never called a problem, rejected or
// warned about.
func TestWatchAfterAKilledCommit(t *testing.T) {
	r := newTestRepo(t)
	inbox := t.TempDir()
	up, _ := pkggen.MakePackage(inbox, pkggen.Spec{Name: "a", Version: "1-1"})
	data, _ := os.ReadFile(up)
	// The killed commit's state: the upload hard-linked into the
	// repository and registered, the journal still asking to remove it.
	final := filepath.Join(r.Options().DB.Dir, filepath.Base(up))
	if err := os.Link(up, final); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(context.Background(), nil, repo.Request{}); err != nil {
		t.Fatal(err)
	}
	journal := fmt.Sprintf(`{"version": 1, "command": "add", "pid": 1, "started": "2026-01-01T00:00:00Z",
		"places": [{"final": %q, "temp": ".pacrepo-tmp-0-%[1]s", "sha256": %q, "size": %d}],
		"after": [{"name": "a", "filename": %[1]q, "sha256": %[2]q}],
		"remove_sources": [{"path": %[4]q, "size": %[3]d, "sig": false}]}`, filepath.Base(up), sha(data), len(data), up)
	if err := os.WriteFile(filepath.Join(r.Options().DB.Dir, ".farm.pacrepo.journal"), []byte(journal), 0o644); err != nil {
		t.Fatal(err)
	}
	log := startWatch(t, r, inbox, fastSettings, nil)
	deadline := time.Now().Add(30 * time.Second)
	for log.count(EventCommit, false)+log.count(EventCommit, true) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no commit:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * fastSettings.Window)
	for _, kind := range []EventKind{EventProblem, EventRejected, EventWarning, EventError} {
		if n := log.count(kind, false); n != 0 {
			t.Errorf("%d %s events:\n%s", n, kind, log)
		}
	}
	if log.taken() != 1 {
		t.Errorf("the upload was not taken:\n%s", log)
	}
	if _, err := os.Lstat(up); !os.IsNotExist(err) {
		t.Errorf("the upload is still in the inbox: %v", err)
	}
	if es, err := r.Entries(context.Background()); err != nil || len(es) != 1 {
		t.Errorf("registered %+v (%v)", es, err)
	}
}

// TestWatchLateSignature: a .sig that arrives after its package was
// registered is attached when it verifies (placed beside the package, the
// entry refreshed when signatures are embedded); one of another key, one
// whose package is not registered and a FIFO under a .sig name are
// rejected with the reason. None stays in the inbox silently.
func TestWatchLateSignature(t *testing.T) {
	key := testutil.NewPGPKey(t, "packager")
	stranger := testutil.NewPGPKey(t, "stranger")
	keyring, err := signature.LoadKeyring([]string{key.Keyring}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := repo.New(repo.Options{DB: repodb.Location{Dir: t.TempDir(), Name: "farm", Ext: ".tar.zst"}, LockTimeout: time.Minute, Keyring: keyring})
	src := t.TempDir()
	good, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "good", Version: "1-1"})
	forged, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "forged", Version: "1-1"})
	if _, err := r.Add(context.Background(), []string{good, forged}, repo.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	key.SignFile(t, good)
	stranger.SignFile(t, forged)
	ghost, _ := pkggen.MakePackage(src, pkggen.Spec{Name: "ghost", Version: "1-1"})
	key.SignFile(t, ghost)
	inbox := t.TempDir()
	set := fastSettings
	set.RejectAfter = 2 * time.Second
	log := startWatch(t, r, inbox, set, AddTarget{Repo: r, Request: repo.Request{EmbedSignatures: true}})
	for _, p := range []string{good, forged, ghost} {
		if err := os.Rename(p+".sig", filepath.Join(inbox, filepath.Base(p)+".sig")); err != nil {
			t.Fatal(err)
		}
	}
	const fifo = "fifo-1-1-x86_64.pkg.tar.zst.sig"
	if err := syscall.Mkfifo(filepath.Join(inbox, fifo), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for log.count(EventRejected, false) < 3 || log.taken() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not attached or not rejected:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(r.Options().DB.Dir, filepath.Base(good)+".sig")); err != nil {
		t.Errorf("the late .sig was not placed beside its package: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Options().DB.Dir, filepath.Base(forged)+".sig")); err == nil {
		t.Error("the forged .sig was placed in the repository")
	}
	es, _ := r.Entries(context.Background())
	for _, e := range es {
		if signed := e.PGPSig != ""; signed != (e.Name == "good") {
			t.Errorf("%s: embedded signature %q", e.Name, e.PGPSig)
		}
	}
	for name, want := range map[string]string{
		filepath.Base(forged) + ".sig": "signature",
		filepath.Base(ghost) + ".sig":  "no package " + filepath.Base(ghost) + " is registered",
		fifo:                           "a named pipe (FIFO), not an upload",
	} {
		data, err := os.ReadFile(filepath.Join(inbox, "rejected", name+".reason"))
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s: reason %q (%v), want %q", name, data, err, want)
		}
	}
	left, _ := filepath.Glob(filepath.Join(inbox, "*.sig"))
	if len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
}

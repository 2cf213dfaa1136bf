// Package inbox commits uploads to a repository as they complete: the
// engine of `pacrepo watch`.
//
// Builders upload package files into an inbox directory (or into the
// repository directory itself). An upload counts only when it is complete:
// unchanged for a settle time, then read completely and verified by the
// repository as every add is (and, when signatures are required, with its
// .sig). Everything that completed within a short window, and everything
// that completed while a commit ran, goes into one database write (group
// commit). An upload that cannot be used as it is stays where it is and is
// tried again when it changes; one still broken after a timeout is moved to
// the rejected directory with a file that says why.
//
// inotify tells of changes at once; a periodic rescan is the safety net for
// a lost event, a queue overflow or a network file system. The package
// never prints: it reports events to its caller.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// Target is where completed uploads go.
type Target interface {
	// Commit brings files (paths of the watched directory) into the
	// repository in one database write and accounts for every one of them.
	Commit(ctx context.Context, files []string) (Outcome, error)
}

// Outcome is what one commit did.
type Outcome struct {
	Written bool      // the database was written
	Added   []string  // "NAME VERSION" of every entry registered
	Retired []string  // files retired from the repository
	Taken   []string  // uploads now in the repository
	Failed  []Failure // uploads that could not be used as they are
}

// Failure is an upload a commit could not use.
type Failure struct {
	Path   string
	Reason string
	// Retriable: waiting may mend it (a file still being written, a
	// signature still to come).
	Retriable bool
	// Refused: it will never be added as it is (older than the registered
	// version, a different file under a name the repository holds).
	Refused bool
}

// Settings are the timings of a watch.
type Settings struct {
	Settle      time.Duration // an upload unchanged this long is complete enough to read
	Window      time.Duration // after the first complete upload, wait this long for others
	Rescan      time.Duration // full directory scan every so often (positive)
	RejectAfter time.Duration // an upload broken this long is rejected
}

// check refuses settings a watch cannot run with.
func (s Settings) check() error {
	switch {
	case s.Settle < 0 || s.Window < 0:
		return errors.New("watch: negative settle time or window")
	case s.Rescan <= 0:
		return errors.New("watch: the rescan interval must be positive")
	case s.RejectAfter <= 0:
		return errors.New("watch: the time before rejecting an upload must be positive")
	}
	return nil
}

// Options configure a watch.
type Options struct {
	Dir   string       // the directory watched
	Names layout.Names // which names are package files (the rest is ignored)
	// RejectedDir receives uploads still broken after RejectAfter; ""
	// leaves them where they are (watching the repository directory,
	// whose files only a plan ever moves).
	RejectedDir string
	// Load gives the target and settings to use, at start and on every
	// reload.
	Load func() (Target, Settings, error)
	// Reload asks for Load to be called again (SIGHUP).
	Reload <-chan struct{}
	// OnEvent is told of everything that happens; it must not block long.
	OnEvent func(Event)
}

// EventKind names an event.
type EventKind string

const (
	EventStart    EventKind = "start"    // watching; Pending uploads found
	EventCommit   EventKind = "commit"   // a commit ended; Outcome says what it did
	EventProblem  EventKind = "problem"  // an upload could not be used as it is (Path, Reason)
	EventRejected EventKind = "rejected" // an upload was moved to RejectedDir (Path, To, Reason)
	EventError    EventKind = "error"    // a commit failed; retried after RetryIn
	EventWarning  EventKind = "warning"  // something works less well than it should (Err)
	EventReload   EventKind = "reload"   // the configuration was loaded again (Err if it failed)
	EventStop     EventKind = "stop"     // the watch ends
)

// Event is one thing that happened.
type Event struct {
	Kind     EventKind
	Time     time.Time
	Path     string
	To       string
	Reason   string
	Outcome  *Outcome
	Uploads  int           // commit: uploads given to it
	Duration time.Duration // commit: how long it took
	Pending  int           // uploads not committed yet
	RetryIn  time.Duration
	Err      error
}

// Run watches until ctx is done. A commit that has started is finished
// first: it runs under a context that ctx does not cancel.
//
// One watch per directory: a second one refuses to start with a
// *BusyError naming the first.
func Run(ctx context.Context, o Options) error {
	lock, err := lockDir(o.Dir)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	target, set, err := o.Load()
	if err == nil {
		err = set.check()
	}
	if err != nil {
		return err
	}
	w := &watcher{o: o, target: target, set: set, tr: newTracker(set.Settle, set.RejectAfter, o.RejectedDir != ""), dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
	if err := w.listen(ctx); err != nil {
		w.emit(Event{Kind: EventWarning, Err: fmt.Errorf("inotify on %s: %w; finding uploads by rescanning every %s", o.Dir, err, w.set.Rescan)})
	}
	if err := w.rescan(time.Now()); err != nil {
		return err
	}
	w.emit(Event{Kind: EventStart, Pending: w.tr.pending()})
	return w.loop(ctx)
}

type watcher struct {
	o      Options
	target Target
	set    Settings
	tr     *tracker

	mu       sync.Mutex
	dirty    map[string]bool // base names inotify told of
	overflow bool            // inotify lost events: rescan
	wake     chan struct{}

	lastRescan   time.Time
	firstReady   time.Time // when the oldest uncommitted complete upload became complete
	backoff      time.Duration
	backoffUntil time.Time
}

func (w *watcher) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if w.o.OnEvent != nil {
		w.o.OnEvent(e)
	}
}

// listen starts inotify on the directory; its events mark names dirty.
func (w *watcher) listen(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := fw.Add(w.o.Dir); err != nil {
		fw.Close()
		return err
	}
	go func() {
		<-ctx.Done()
		fw.Close()
	}()
	go func() {
		for {
			select {
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				w.mu.Lock()
				w.dirty[filepath.Base(ev.Name)] = true
				w.mu.Unlock()
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				w.mu.Lock()
				w.overflow = true
				w.mu.Unlock()
				if !errors.Is(err, fsnotify.ErrEventOverflow) {
					w.emit(Event{Kind: EventWarning, Err: fmt.Errorf("inotify on %s: %w", w.o.Dir, err)})
				}
			}
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}()
	return nil
}

// rescan looks at every name of the directory and at every upload known.
func (w *watcher) rescan(now time.Time) error {
	des, err := os.ReadDir(w.o.Dir)
	if err != nil {
		return fmt.Errorf("scan %s: %w", w.o.Dir, err)
	}
	for _, d := range des {
		w.observe(filepath.Join(w.o.Dir, d.Name()), now)
	}
	for p := range w.tr.uploads {
		w.observe(p, now)
	}
	w.lastRescan = now
	return nil
}

// look takes in what inotify told since the last look.
func (w *watcher) look(now time.Time) {
	w.mu.Lock()
	dirty, overflow := w.dirty, w.overflow
	w.dirty, w.overflow = map[string]bool{}, false
	w.mu.Unlock()
	if overflow || now.Sub(w.lastRescan) >= w.set.Rescan {
		if err := w.rescan(now); err != nil {
			w.emit(Event{Kind: EventWarning, Err: err})
		}
		return
	}
	for name := range dirty {
		w.observe(filepath.Join(w.o.Dir, name), now)
	}
	// An upload about to count is looked at once more: on a file system
	// without inotify events, this is what sees it still growing.
	for p, u := range w.tr.uploads {
		if !u.done && u.failedSince.IsZero() && now.Sub(u.changed) >= w.set.Settle {
			w.observe(p, now)
		}
	}
}

// observe looks at one name of the directory. A package file is an
// upload, its .sig part of it. In an inbox, a .sig whose package is not
// there is an upload of its own: a late signature of a registered
// package, to be attached (or rejected with the reason, never left
// silently); once its package arrives, it is part of that upload again.
func (w *watcher) observe(path string, now time.Time) {
	switch w.o.Names.Classify(filepath.Base(path)) {
	case layout.Package:
		w.tr.observe(path, now)
		if _, tracked := w.tr.uploads[path]; tracked {
			w.tr.forget(path + ".sig")
		}
	case layout.Signature:
		pkg := strings.TrimSuffix(path, ".sig")
		w.tr.observe(pkg, now) // a .sig arriving or changing makes its package a new candidate
		if _, tracked := w.tr.uploads[pkg]; tracked || w.o.RejectedDir == "" {
			w.tr.forget(path)
			return
		}
		w.tr.observe(path, now)
	}
}

func (w *watcher) loop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			w.emit(Event{Kind: EventStop, Pending: w.tr.pending()})
			return nil
		case <-w.o.Reload:
			w.reload()
		case <-w.wake:
		case <-timer.C:
		}
		now := time.Now()
		w.look(now)
		w.rejectExpired(now)
		ready := w.tr.ready(now)
		switch {
		case len(ready) == 0:
			w.firstReady = time.Time{}
		case w.firstReady.IsZero():
			w.firstReady = now
		}
		if len(ready) > 0 && !now.Before(w.commitAt()) {
			w.commit(ctx, ready)
			timer.Reset(0) // look again at once: uploads completed meanwhile
			continue
		}
		timer.Reset(w.untilNext(now))
	}
}

// commitAt is when the complete uploads are committed: a window after the
// first of them completed, and not before a back-off ends.
func (w *watcher) commitAt() time.Time {
	at := w.firstReady.Add(w.set.Window)
	if w.backoffUntil.After(at) {
		at = w.backoffUntil
	}
	return at
}

// untilNext is how long the loop may sleep when no event comes.
func (w *watcher) untilNext(now time.Time) time.Duration {
	next := w.lastRescan.Add(w.set.Rescan)
	consider := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	consider(w.tr.next(now))
	if !w.firstReady.IsZero() {
		consider(w.commitAt())
	}
	// Never spin: events are taken in at most every few milliseconds.
	return max(next.Sub(now), 5*time.Millisecond)
}

func (w *watcher) reload() {
	target, set, err := w.o.Load()
	if err == nil {
		err = set.check()
	}
	if err != nil {
		w.emit(Event{Kind: EventReload, Err: fmt.Errorf("keeping the configuration in use: %w", err)})
		return
	}
	w.target, w.set = target, set
	w.tr.settle, w.tr.rejectAfter = set.Settle, set.RejectAfter
	w.backoff, w.backoffUntil = 0, time.Time{}
	w.emit(Event{Kind: EventReload})
}

// commit gives the complete uploads to the target in one database write.
func (w *watcher) commit(ctx context.Context, ready []string) {
	start := time.Now()
	out, err := w.target.Commit(context.WithoutCancel(ctx), ready)
	now := time.Now()
	if err != nil {
		w.backoff = min(max(2*w.backoff, time.Second), time.Minute)
		w.backoffUntil = now.Add(w.backoff)
		w.emit(Event{Kind: EventError, Err: err, Uploads: len(ready), RetryIn: w.backoff, Pending: w.tr.pending()})
		return
	}
	w.backoff, w.backoffUntil, w.firstReady = 0, time.Time{}, time.Time{}
	accounted := map[string]bool{}
	for _, p := range out.Taken {
		w.tr.taken(p)
		accounted[p] = true
	}
	for _, f := range out.Failed {
		accounted[f.Path] = true
		if gone(f.Path) {
			// Moved away meanwhile (by its uploader, or by the recovery of
			// a killed watch's move): nothing is left to report or reject.
			w.tr.forget(f.Path)
			continue
		}
		if w.tr.failed(f.Path, f.Reason, f.Retriable, f.Refused, now) {
			w.emit(Event{Kind: EventProblem, Path: f.Path, Reason: f.Reason})
		}
	}
	for _, p := range ready {
		if !accounted[p] {
			// A target that says nothing of an upload has nothing to do
			// with it; trying it again would loop.
			w.tr.taken(p)
		}
	}
	w.emit(Event{Kind: EventCommit, Outcome: &out, Uploads: len(ready), Duration: now.Sub(start), Pending: w.tr.pending()})
	w.rejectExpired(now)
}

// rejectExpired moves every upload broken for too long (or refused) out
// of the way, or, without a rejected directory, says once that it stays.
func (w *watcher) rejectExpired(now time.Time) {
	for _, p := range w.tr.expired(now) {
		u := w.tr.uploads[p]
		if w.o.RejectedDir == "" {
			w.tr.taken(p) // given up on until it changes
			w.emit(Event{Kind: EventProblem, Path: p, Reason: u.reason + " (left where it is)"})
			continue
		}
		to, err := reject(p, w.o.RejectedDir, u.reason)
		if err != nil && to == "" && gone(p) {
			w.tr.forget(p) // moved away meanwhile: nothing to reject
			continue
		}
		if err != nil {
			w.tr.taken(p) // given up on until it changes: retrying would flood the log
			w.emit(Event{Kind: EventWarning, Err: fmt.Errorf("reject %s: %w", p, err)})
			continue
		}
		w.tr.forget(p)
		w.emit(Event{Kind: EventRejected, Path: p, To: to, Reason: u.reason})
	}
}

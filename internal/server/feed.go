package server

// The feed's changes and a package page's history. A repository that
// keeps its generations (internal/history) says exactly when each version
// came and went: recordLog reads its records, each once. One without
// history (written by repo-add, or never changed since it was made) holds
// only what is in it now, so the server says what it can honestly know:
// the changes it saw happen (a version added, upgraded, downgraded,
// rebuilt or removed between two generations of the database it read,
// dated by the database's write), and, for what was already there when it
// started, each package's build date, named as such ("built"), never as
// the day it arrived.

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/version"
)

// maxObservedChanges bounds the changes the server remembers.
const maxObservedChanges = 1000

// The kinds of change.
const (
	changeAdded      = "added"
	changeUpgraded   = "upgraded"
	changeDowngraded = "downgraded"
	changeRebuilt    = "rebuilt"
	changeRemoved    = "removed"
	changeRolledBack = "rolled back"
	changeBuilt      = "built" // only the build date is known
)

// change is one event of a package's history.
type change struct {
	When     time.Time
	Kind     string
	Name     string
	Version  string // the version after the change (before it, for removed)
	Previous string // the version before, for upgraded, downgraded and rolled back
	// Recorded says the change comes from the repository's history, as
	// its generation Generation.
	Recorded   bool
	Generation int64
}

// changeSource is where the feed and the package pages' history come
// from.
type changeSource interface {
	// recent returns at most limit changes of c's repository, newest
	// first.
	recent(c *catalog, limit int) []change
	// of returns the changes of one package, newest first.
	of(c *catalog, name string) []change
}

// changeLog is the history this server can vouch for: what it saw change
// since it started.
type changeLog struct {
	seen []change // oldest first
}

var _ changeSource = (*changeLog)(nil)

// observe records what changed from prev to next (nothing for the first
// generation the server reads: it did not see that one arrive).
func (l *changeLog) observe(prev, next *catalog) {
	if prev == nil {
		return
	}
	when := next.modified
	if !when.After(prev.modified) {
		when = time.Now() // a database whose time went backwards: when we saw it
	}
	var found []change
	for _, p := range next.byName {
		old, ok := prev.named[p.Name]
		switch {
		case !ok:
			found = append(found, change{When: when, Kind: changeAdded, Name: p.Name, Version: p.Version})
		case old.Version != p.Version:
			kind := changeUpgraded
			if version.Compare(p.Version, old.Version) < 0 {
				kind = changeDowngraded
			}
			found = append(found, change{When: when, Kind: kind, Name: p.Name, Version: p.Version, Previous: old.Version})
		case old.SHA256Sum != p.SHA256Sum:
			found = append(found, change{When: when, Kind: changeRebuilt, Name: p.Name, Version: p.Version})
		}
	}
	for _, p := range prev.byName {
		if _, ok := next.named[p.Name]; !ok {
			found = append(found, change{When: when, Kind: changeRemoved, Name: p.Name, Version: p.Version})
		}
	}
	l.seen = append(l.seen, found...)
	if over := len(l.seen) - maxObservedChanges; over > 0 {
		l.seen = slices.Delete(l.seen, 0, over)
	}
}

func (l *changeLog) recent(c *catalog, limit int) []change {
	out := make([]change, 0, limit)
	for i := len(l.seen) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, l.seen[i])
	}
	known := map[string]bool{}
	for _, ch := range out {
		known[ch.Name+"\x00"+ch.Version] = true
	}
	for i := len(c.byDate) - 1; i >= 0 && len(out) < 2*limit; i-- {
		p := c.byDate[i]
		if !known[p.Name+"\x00"+p.Version] {
			out = append(out, change{When: time.Unix(p.BuildDate, 0).UTC(), Kind: changeBuilt, Name: p.Name, Version: p.Version})
		}
	}
	slices.SortStableFunc(out, func(a, b change) int { return cmp.Compare(b.When.UnixNano(), a.When.UnixNano()) })
	return out[:min(len(out), limit)]
}

func (l *changeLog) of(c *catalog, name string) []change {
	var out []change
	for i := len(l.seen) - 1; i >= 0; i-- {
		if l.seen[i].Name == name {
			out = append(out, l.seen[i])
		}
	}
	if p, ok := c.named[name]; ok {
		out = append(out, change{When: time.Unix(p.BuildDate, 0).UTC(), Kind: changeBuilt, Name: p.Name, Version: p.Version})
	}
	return out
}

// maxRecordedChanges bounds the changes kept of a repository's history:
// a reset of a large repository registers every package.
const maxRecordedChanges = 200000

// recordLog is the history a repository keeps: the changes of its
// generations' records, each record read once, the new ones when the
// database changed.
type recordLog struct {
	mu    sync.Mutex
	store history.Store // nil: the repository cannot keep a history
	// recheck: the store writes a generation's record after its databases
	// (a directory), so a database newer than the newest record may have
	// its record still to come: the records are listed again (no record
	// read twice) until one is as new as the database. A bucket commits
	// by its record, but a rollback to a database it holds already is a
	// new generation of the same database: its records are listed again
	// too. Either at most every objectsRecheck (listed).
	recheck bool
	listed  time.Time
	synced  string    // the catalog generation the records were read for
	newest  int64     // the newest generation read; -1 before any
	newTime time.Time // its record's time
	changes []change  // oldest first
}

var _ changeSource = (*recordLog)(nil)

func newRecordLog(store history.Store, recheck bool) *recordLog {
	return &recordLog{store: store, recheck: recheck, newest: -1}
}

// sync reads the records written since the last call, when c is another
// generation of the database than the last call's (or its record may be
// still to come); it tells whether the repository has a history.
func (l *recordLog) sync(ctx context.Context, c *catalog) (bool, error) {
	if l.store == nil {
		return false, nil
	}
	settled := l.newest >= 0 && !l.newTime.Before(c.modified)
	if l.synced == c.generation && (l.recheck && settled || time.Since(l.listed) < objectsRecheck) {
		return l.newest >= 0, nil
	}
	l.listed = time.Now()
	gens, err := l.store.Generations(ctx)
	if err != nil {
		return l.newest >= 0, err
	}
	for _, g := range gens {
		if g <= l.newest {
			continue
		}
		rec, err := l.store.Record(ctx, g)
		var missing *history.NotFoundError
		switch {
		case errors.Is(err, history.ErrPruned), errors.As(err, &missing):
			l.newest = g
			continue
		case err != nil:
			return l.newest >= 0, err
		}
		l.changes = append(l.changes, recordChanges(rec)...)
		l.newest, l.newTime = g, rec.Time
	}
	if over := len(l.changes) - maxRecordedChanges; over > 0 {
		l.changes = slices.Delete(l.changes, 0, over)
	}
	l.synced = c.generation
	return l.newest >= 0, nil
}

// recordChanges are the changes of one generation, by package name from
// Z to A.
func recordChanges(rec *history.Record) []change {
	rollback := isRollback(rec.Command)
	var out []change
	for _, p := range rec.Registered {
		ch := change{When: rec.Time, Kind: changeAdded, Name: p.Name, Version: p.Version, Previous: p.From, Recorded: true, Generation: rec.Generation}
		switch {
		case rollback:
			ch.Kind = changeRolledBack
		case p.From == "":
		case p.From == p.Version:
			ch.Kind, ch.Previous = changeRebuilt, ""
		case version.Compare(p.Version, p.From) < 0:
			ch.Kind = changeDowngraded
		default:
			ch.Kind = changeUpgraded
		}
		out = append(out, ch)
	}
	for _, p := range rec.Unregistered {
		out = append(out, change{When: rec.Time, Kind: changeRemoved, Name: p.Name, Version: p.Version, Recorded: true, Generation: rec.Generation})
	}
	// Z to A: the log is read backwards, newest first, and each
	// generation's changes then come by name.
	slices.SortStableFunc(out, func(a, b change) int { return strings.Compare(b.Name, a.Name) })
	return out
}

// isRollback tells whether a record's command (as typed, "pacrepo
// [flags] rollback GEN", or the library's command name) is a rollback:
// its first command word is.
func isRollback(command string) bool {
	for _, word := range strings.Fields(command) {
		switch word {
		case "rollback":
			return true
		case "add", "remove", "update", "reset", "watch":
			return false
		}
	}
	return false
}

func (l *recordLog) recent(c *catalog, limit int) []change {
	out := make([]change, 0, limit)
	for i := len(l.changes) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, l.changes[i])
	}
	return out
}

// of also names the current version's build date when the history does
// not say when it came (it was there before the history began).
func (l *recordLog) of(c *catalog, name string) []change {
	var out []change
	for i := len(l.changes) - 1; i >= 0; i-- {
		if l.changes[i].Name == name {
			out = append(out, l.changes[i])
		}
	}
	if p, ok := c.named[name]; ok && !slices.ContainsFunc(out, func(ch change) bool { return ch.Version == p.Version && ch.Kind != changeRemoved }) {
		out = append(out, change{When: time.Unix(p.BuildDate, 0).UTC(), Kind: changeBuilt, Name: p.Name, Version: p.Version})
	}
	return out
}

// historyStore is repo's history: a directory's beside it, a bucket's in
// its commit records (when its Objects keep one); nil when none can be.
func historyStore(repo Repository) history.Store {
	if repo.Objects == nil {
		return history.DirOf(repo.Dir, repo.Name)
	}
	if kept, ok := repo.Objects.(interface{ History() history.Store }); ok {
		return kept.History()
	}
	return nil
}

// withChanges calls use with the history of repo's catalog c: its own
// when it keeps one (recorded), else what this server saw. It returns the
// catalog a page showing that history is versioned by: a generation can
// change the history and not the databases (a rollback to a database the
// repository has had), so its ETag and time follow the newest record too.
func (h *handler) withChanges(ctx context.Context, repo Repository, c *catalog, use func(src changeSource, recorded bool)) *catalog {
	rc := h.catalogs.of(repo.Name)
	rc.mu.Lock()
	if rc.records == nil {
		rc.records = newRecordLog(historyStore(repo), repo.Objects == nil)
	}
	records := rc.records
	rc.mu.Unlock()
	records.mu.Lock()
	recorded, err := records.sync(ctx, c)
	if err != nil && h.opts.AccessLog != nil {
		h.opts.AccessLog.Warn("package pages: history", slog.String("repository", repo.Name), slog.String("error", err.Error()))
	}
	if recorded {
		defer records.mu.Unlock()
		use(records, true)
		return c.versioned(records.newest, records.newTime)
	}
	records.mu.Unlock()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	use(&rc.changes, false)
	return c
}

// versioned is c as a page that also shows the history up to generation
// gen, recorded at when: the same packages, another ETag and time.
func (c *catalog) versioned(gen int64, when time.Time) *catalog {
	v := *c
	v.etag = strings.TrimSuffix(c.etag, `"`) + "-" + strconv.FormatInt(gen, 10) + `"`
	if when.After(v.modified) {
		v.modified = when
	}
	return &v
}

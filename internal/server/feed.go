package server

// The feed's changes. pacrepo keeps no history of a repository yet: a
// database holds only what is in it now. So the feed says what it can
// honestly know: the changes this server saw happen (a version added,
// upgraded, downgraded, rebuilt or removed between two generations of the
// database it read, dated by the database's write), and, for what was
// already there when it started, each package's build date, named as such
// ("built"), never as the day it arrived. When the repository keeps its
// generations, history replaces changeLog and both become exact.

import (
	"cmp"
	"slices"
	"time"

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
	changeBuilt      = "built" // only the build date is known
)

// change is one event of a package's history.
type change struct {
	When     time.Time
	Kind     string
	Name     string
	Version  string // the version after the change (before it, for removed)
	Previous string // the version before, for upgraded and downgraded
}

// history is where the feed and the package pages' history come from.
type history interface {
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

var _ history = (*changeLog)(nil)

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

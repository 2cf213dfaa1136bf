package inbox

import (
	"os"
	"sort"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// identity is one version of an upload as far as stat can tell: the
// package file's and its signature's. Any change of either (a write, a
// rename over it, a chmod, the .sig arriving) makes the upload a new
// candidate that must settle again.
type identity struct {
	pkg, sig fsutil.FileID // sig is zero while there is no .sig
}

// statIdentity is the identity of the upload at path. In an inbox
// (noFollow) nothing is followed: a symbolic link is one thing, never what
// it leads to. notUpload says, for a path that is not a regular file (a
// link in an inbox, a FIFO, a directory), what it is instead, and nothing
// of where a link leads; such a path is never opened.
func statIdentity(path string, noFollow bool) (id identity, notUpload string, err error) {
	stat := os.Stat
	if noFollow {
		stat = os.Lstat
	}
	fi, err := stat(path)
	if err != nil {
		return identity{}, "", err
	}
	id.pkg = fsutil.IDOf(fi)
	if !fi.Mode().IsRegular() {
		return id, fsutil.TypeName(fi.Mode()) + ", not an upload", nil
	}
	if sig, err := stat(path + ".sig"); err == nil {
		id.sig = fsutil.IDOf(sig)
	}
	return id, "", nil
}

// upload is one package file of the inbox that has not been committed.
type upload struct {
	id      identity
	changed time.Time // when id was last seen to change
	// failedSince is set when a commit could not use the file with this
	// identity (it is not tried again until it changes); reason says why.
	failedSince time.Time
	reason      string
	retriable   bool
	refused     bool // never to be added as it is (rejected at once)
	// done says a commit took the upload as it is: it is in the
	// repository (a file of the repository directory stays where it is).
	done bool
}

// tracker knows every upload in the inbox and which are complete. It does
// no I/O of its own beyond stat, so that its rules are tested with a clock
// of the test's.
type tracker struct {
	settle      time.Duration
	rejectAfter time.Duration
	noFollow    bool               // an inbox: a symbolic link is not an upload
	uploads     map[string]*upload // by path
}

func newTracker(settle, rejectAfter time.Duration, noFollow bool) *tracker {
	return &tracker{settle: settle, rejectAfter: rejectAfter, noFollow: noFollow, uploads: map[string]*upload{}}
}

// observe records what stat says of path now: a new or changed upload
// starts settling, a vanished one is forgotten, and what is not a regular
// file is refused at once, never opened.
func (t *tracker) observe(path string, now time.Time) {
	id, notUpload, err := statIdentity(path, t.noFollow)
	u := t.uploads[path]
	switch {
	case err != nil:
		delete(t.uploads, path)
		return
	case u == nil:
		u = &upload{id: id, changed: now}
		t.uploads[path] = u
	case u.id != id:
		*u = upload{id: id, changed: now}
	default:
		return
	}
	if notUpload != "" {
		u.failedSince, u.reason, u.refused = now, notUpload, true
	}
}

// forget drops path (it was rejected).
func (t *tracker) forget(path string) { delete(t.uploads, path) }

// taken records that a commit took path as it is.
func (t *tracker) taken(path string) {
	if u := t.uploads[path]; u != nil {
		u.done = true
	}
}

// ready lists the uploads that have been unchanged for the settle time and
// have not failed as they are, sorted.
func (t *tracker) ready(now time.Time) []string {
	var out []string
	for p, u := range t.uploads {
		if !u.done && u.failedSince.IsZero() && now.Sub(u.changed) >= t.settle {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// failed records that a commit could not use path as it is now.
func (t *tracker) failed(path, reason string, retriable, refused bool, now time.Time) (first bool) {
	u := t.uploads[path]
	if u == nil {
		return false
	}
	first = u.failedSince.IsZero() || u.reason != reason
	if u.failedSince.IsZero() {
		u.failedSince = now
	}
	u.reason, u.retriable, u.refused = reason, retriable, refused
	return first
}

// expired lists the failed uploads to reject now: refused ones at once,
// others once they have stayed broken for rejectAfter.
func (t *tracker) expired(now time.Time) []string {
	var out []string
	for p, u := range t.uploads {
		if !u.done && !u.failedSince.IsZero() && (u.refused || now.Sub(u.failedSince) >= t.rejectAfter) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// next is the earliest moment after now at which something may change
// without an event: an upload settles or a failed one expires. Zero when
// nothing waits.
func (t *tracker) next(now time.Time) time.Time {
	var at time.Time
	for _, u := range t.uploads {
		var x time.Time
		switch {
		case u.done:
			continue
		case u.failedSince.IsZero():
			x = u.changed.Add(t.settle)
		case u.refused:
			x = u.failedSince
		default:
			x = u.failedSince.Add(t.rejectAfter)
		}
		if x.After(now) && (at.IsZero() || x.Before(at)) {
			at = x
		}
	}
	return at
}

// pending counts the uploads not committed yet.
func (t *tracker) pending() int {
	n := 0
	for _, u := range t.uploads {
		if !u.done {
			n++
		}
	}
	return n
}

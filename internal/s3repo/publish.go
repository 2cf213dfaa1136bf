package s3repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/version"
)

// Publish makes the repository in the bucket hold exactly entries (every
// field and file list, as a directory repository's files database holds
// them), their package files read from dir: in the order mirrors need,
// packages and signatures first, then the commit, then the files database,
// the db and lastupdate; what is no longer registered is deleted by gc
// after the grace period. A package whose file is not the one its entry
// describes is an error, and nothing is committed.
//
// Unregistering most of the bucket's repository (an empty or wrong
// directory published) is refused without o.Force, as for a directory
// (invariant 7).
func (r *Repo) Publish(ctx context.Context, dir string, entries []repodb.Entry, o PublishOptions) (*repo.Result, error) {
	var ups []upload
	want := map[string]*repodb.Entry{}
	for i := range entries {
		e := &entries[i]
		if e.Files == nil {
			return nil, fmt.Errorf("%s (%s): the entry has no file list", e.Name, filepath.Join(dir, e.Filename))
		}
		want[e.Name] = e
		u := upload{src: filepath.Join(dir, e.Filename), key: r.addr.key(e.Filename), entry: *e}
		if sig, err := os.ReadFile(u.src + ".sig"); err == nil {
			u.sig = sig
		} else if !os.IsNotExist(err) {
			return nil, err
		}
		ups = append(ups, u)
	}
	plan := func(st *state) (*planned, error) {
		var acts []repo.Action
		upserts := map[string]*repodb.Entry{}
		have := map[string]*repodb.Entry{}
		losing := 0
		for i := range st.entries {
			e := &st.entries[i]
			have[e.Name] = e
			if want[e.Name] == nil {
				acts = append(acts, repo.Action{Kind: repo.ActUnregister, Name: e.Name, File: e.Filename, From: e.Version, Reason: "not in the published repository"})
				losing++
			}
		}
		for name, e := range want {
			old := have[name]
			if old != nil && sameEntry(old, e) {
				continue
			}
			acts = append(acts, registration(e, old, "published"))
			upserts[name] = e
		}
		p := &planned{plan: &repo.Plan{Actions: acts}, upserts: upserts}
		if err := repo.CheckRemoval(losing, len(st.entries), o.Force); err != nil {
			return p, err // the plan refused, for --dry-run and the message
		}
		return p, nil
	}
	return r.change(ctx, o.DryRun, ups, plan)
}

// PublishOptions tune Publish.
type PublishOptions struct {
	DryRun bool
	// Force allows unregistering most of the repository.
	Force bool
}

// sameEntry: what the bucket registers is what is being published.
func sameEntry(a, b *repodb.Entry) bool {
	return a.Filename == b.Filename && a.SHA256Sum == b.SHA256Sum && a.PGPSig == b.PGPSig
}

// registration is the action registering e in place of old (nil when the
// name is not registered). Publish decides nothing (the directory's
// planner did): it names what it copies.
func registration(e, old *repodb.Entry, reason string) repo.Action {
	act := repo.Action{Kind: repo.ActNew, Name: e.Name, File: e.Filename, To: e.Version, Reason: reason}
	if old == nil {
		return act
	}
	act.From = old.Version
	switch c := version.Compare(e.Version, old.Version); {
	case c > 0:
		act.Kind = repo.ActUpgrade
	case c < 0:
		act.Kind = repo.ActDowngrade
	default:
		act.Kind = repo.ActRefresh
	}
	return act
}

package repo

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/version"
)

// MissingFilesError says files a generation needs are gone: rollback to
// it would register what the store does not hold. Nothing changed.
type MissingFilesError struct {
	Generation int64
	Files      []string // the package files, as the generation's database names them
}

func (e *MissingFilesError) Error() string {
	return fmt.Sprintf("generation %d needs files that are gone (nothing changed): %s", e.Generation, strings.Join(e.Files, ", "))
}

// PlanRollback is the plan of rollback to a generation whose packages are
// target: a change whose registered entries become target's. Each target
// file must be one the store holds (verified, registered, kept) or one of
// available, files the store can bring in (placed first: the backup
// directory's); otherwise nothing changes and the error names every file
// missing.
func PlanRollback(s *Snapshot, generation int64, target []history.Package, available []AddedFile, force bool) (*Plan, error) {
	var avail []verifiedFile
	var places []Action
	for _, f := range available {
		avail = append(avail, f.verified())
		places = append(places, Action{Kind: ActPlace, Name: f.Name, File: f.Source, To: f.Version,
			Reason: "restore into the repository as " + f.Filename})
	}
	return planRollback(s.scanResult(), generation, target, avail, places, planOptions{Force: force})
}

// planRollback registers target's files and unregisters every other name.
// Only the registered file of a name whose registration changes is retired
// (another version took its place; invariant 2): other files of the name,
// uploads for instance, are left as they are. The safety valve applies.
func planRollback(s *scanResult, generation int64, target []history.Package, available []verifiedFile, places []Action, o planOptions) (*Plan, error) {
	p := &Plan{Problems: slices.Clone(s.problems)}
	if err := sharedDirectory(s); err != nil {
		return nil, err
	}
	have := map[string]*verifiedFile{}
	for _, list := range [][]verifiedFile{s.kept, s.files, available} {
		for i := range list {
			have[list[i].Filename] = &list[i]
		}
	}
	var missing []string
	var want []*verifiedFile
	for _, t := range target {
		f := have[t.File]
		if f == nil || f.SHA256 != t.SHA256 || f.Name != t.Name || f.Version != t.Version {
			missing = append(missing, t.File)
			continue
		}
		want = append(want, f)
	}
	if len(missing) > 0 {
		return p, &MissingFilesError{Generation: generation, Files: missing}
	}
	p.Actions = append(p.Actions, places...)
	reg := s.entryByName()
	byFile := map[string]*verifiedFile{}
	for i := range s.files {
		byFile[s.files[i].Filename] = &s.files[i]
	}
	why := fmt.Sprintf("generation %d", generation)
	// retire retires the file a name no longer registers, when it is a
	// verified file of another version than by, registered in its place
	// (nil when none is).
	retire := func(name, file string, by *verifiedFile) {
		f := byFile[file]
		switch {
		case f == nil:
		case by == nil:
			p.Actions = append(p.Actions, Action{Kind: ActRetire, Name: name, File: file, From: f.Version,
				Reason: "not in " + why})
		case version.Compare(f.Version, by.Version) != 0:
			p.Actions = append(p.Actions, Action{Kind: ActRetire, Name: name, File: file, From: f.Version,
				Reason: fmt.Sprintf("replaced by %s (%s)", by.Filename, why)})
		}
	}
	inTarget := map[string]bool{}
	for _, f := range want {
		inTarget[f.Name] = true
		e := reg[f.Name]
		act := Action{Kind: ActNew, Name: f.Name, File: f.Filename, To: f.Version, Reason: why}
		if e != nil {
			if e.Filename == f.Filename && e.SHA256Sum == f.SHA256 && e.CSize == f.CSize {
				continue // registered so already
			}
			act.From = e.Version
			switch c := version.Compare(f.Version, e.Version); {
			case c > 0:
				act.Kind = ActUpgrade
			case c < 0:
				act.Kind = ActDowngrade
			default:
				act.Kind = ActRefresh
			}
		}
		p.Actions = append(p.Actions, act)
		if e != nil && e.Filename != f.Filename {
			retire(f.Name, e.Filename, f)
		}
	}
	for _, e := range s.entries {
		if inTarget[e.Name] {
			continue
		}
		p.Actions = append(p.Actions, Action{Kind: ActUnregister, Name: e.Name, File: e.Filename, From: e.Version,
			Reason: "not in " + why})
		retire(e.Name, e.Filename, nil)
	}
	return p, valve(s, p, o)
}

// Rollback makes a new generation whose packages are those of generation
// gen: planned by PlanRollback from a fresh scan under the lock, applied
// like any change (journal, retirement rules, signatures, the safety
// valve). The files gen needs are found where they are: in the directory
// (registered, kept in place, or lying there), or in the backup directory
// where a retirement moved them (the history says where each went), from
// which they are copied back. When some are gone, nothing changes and the
// *MissingFilesError names each.
func (r *Repo) Rollback(ctx context.Context, gen int64, req Request) (*Result, error) {
	h := r.History()
	rec, err := h.Record(ctx, gen)
	if err != nil {
		return nil, err
	}
	target, err := h.Packages(ctx, rec)
	if err != nil {
		return nil, err
	}
	restores, err := r.restoreSources(ctx, target)
	if err != nil {
		return nil, err
	}
	command := fmt.Sprintf("rollback %d", gen)
	return r.transact(ctx, command, req, scanFor(req), func(s *scanResult, db *dbContent) (*txn, error) {
		t := &txn{command: command, snap: s, db: db, added: map[string]*addedFile{}, mode: Copy, embedSigs: req.EmbedSignatures}
		var available []verifiedFile
		var places []Action
		for _, a := range restores {
			base := a.file.Filename
			if s.present[base] || s.present[base+".sig"] {
				continue // something is there now: the planner judges it
			}
			c := *a
			c.place = true
			t.added[base] = &c
			t.places = append(t.places, &c)
			available = append(available, c.file)
			places = append(places, Action{Kind: ActPlace, Name: c.file.Name, File: c.src, To: c.file.Version,
				Reason: "restore into the repository"})
		}
		p, err := planRollback(s, gen, target, available, places, planOptions{Force: req.Force})
		t.plan = p
		return t, err
	})
}

// restoreSources reads, outside the directory, the files of target that
// the database does not register now: in the backup directory under their
// name, or where the history says a retirement moved them. The first copy
// of the very content is taken; a file found nowhere is left for the
// planner to name. (Whether the directory holds such a file is not asked
// here, before the lock: recovery of an interrupted change, or another
// writer, may take it away before the plan is made.)
func (r *Repo) restoreSources(ctx context.Context, target []history.Package) ([]*addedFile, error) {
	registered := map[string]string{}
	if db, err := r.readDB(true); err == nil {
		for _, k := range db.keys {
			registered[k.Filename] = k.SHA256Sum
		}
	}
	need := map[string]history.Package{}
	for _, t := range target {
		if registered[t.File] != t.SHA256 {
			need[t.File] = t
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	candidates, err := r.placesOutside(ctx, need)
	if err != nil {
		return nil, err
	}
	var out []*addedFile
	for file, paths := range candidates {
		t := need[file]
		for _, p := range paths {
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			a, prob := r.readArg(p, false)
			if prob == nil && a.file.SHA256 == t.SHA256 && a.file.Filename == t.File {
				out = append(out, a)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b *addedFile) int { return strings.Compare(a.file.Filename, b.file.Filename) })
	return out, nil
}

package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// State scans database and directory without taking the lock.
func (r *Repo) State(ctx context.Context) (*State, error) {
	s, _, err := r.scan(ctx, scanOptions{useCache: true})
	if err != nil {
		return nil, err
	}
	st := s.state()
	var refused *RefusedError
	if st.Pending, err = planUpdate(s, nil, planOptions{Force: r.opts.Force}); err != nil && !errors.As(err, &refused) {
		return nil, err
	}
	return st, nil
}

// Status is the plan Update(names) would apply now. A plan the safety valve
// refuses is returned together with the *RefusedError.
func (r *Repo) Status(ctx context.Context, names []string) (*Plan, error) {
	s, _, err := r.scan(ctx, scanOptions{useCache: true})
	if err != nil {
		return nil, err
	}
	return planUpdate(s, names, planOptions{Force: r.opts.Force})
}

// Update brings the database in line with the directory (see plan.go for
// the rules). The plan is made again under the lock from a fresh scan.
func (r *Repo) Update(ctx context.Context, names []string) (*Result, error) {
	return r.transact(ctx, "update", scanOptions{useCache: true}, func(s *snapshot, db *dbContent) (*txn, error) {
		p, err := planUpdate(s, names, planOptions{Force: r.opts.Force})
		return &txn{command: "update", plan: p, snap: s, db: db}, err
	})
}

// Remove unregisters names and retires their files. A name that is not
// registered is an *UnknownPackageError and nothing changes.
func (r *Repo) Remove(ctx context.Context, names []string) (*Result, error) {
	if len(names) == 0 {
		return nil, errors.New("remove: no package names given")
	}
	return r.transact(ctx, "remove", scanOptions{useCache: true}, func(s *snapshot, db *dbContent) (*txn, error) {
		p, err := planRemove(s, names, planOptions{Force: r.opts.Force})
		return &txn{command: "remove", plan: p, snap: s, db: db}, err
	})
}

// Reset rebuilds the database from every readable package of the
// directory: the newest file of each name is registered, nothing is
// retired. It is the one command that proceeds over an unreadable database
// (Result.IgnoredDB says so). Every file is read again.
func (r *Repo) Reset(ctx context.Context) (*Result, error) {
	return r.transact(ctx, "reset", scanOptions{ignoreBadDB: true}, func(s *snapshot, db *dbContent) (*txn, error) {
		p, err := planReset(s, planOptions{Force: r.opts.Force})
		return &txn{command: "reset", plan: p, snap: s, db: db, rewrite: true}, err
	})
}

// Entries returns the registered entries (without file lists); a missing
// database is an empty repository, an unreadable one an error.
func (r *Repo) Entries(ctx context.Context) ([]repodb.Entry, error) {
	db, err := r.readDB()
	if err != nil {
		return nil, err
	}
	return db.entries, nil
}

// UnreadableFilesError says add was given files that cannot be added; add
// is all-or-nothing, so nothing was added.
type UnreadableFilesError struct {
	Problems []Problem
}

func (e *UnreadableFilesError) Error() string {
	var b strings.Builder
	b.WriteString("nothing added; cannot add:")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: ", p.Path)
		if p.Kind != 0 {
			fmt.Fprintf(&b, "%s: ", p.Kind)
		}
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// CollisionError says a different file of the same name is already in the
// repository directory; add never replaces it.
type CollisionError struct {
	Source, Existing string
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("cannot add %s: a different file %s is already in the repository (remove it first)", e.Source, e.Existing)
}

// Add verifies files completely, places them and registers them, each as
// the version of its name even when older; the other files of those names
// are retired once the database is written.
//
// Add is all-or-nothing: every argument is read completely and verified
// before the lock is taken; when any cannot be used (unreadable, not a
// package, no .sig with RequireSignature, two files of one name) nothing is
// added and the error (*UnreadableFilesError) lists all of them. A file
// already in the repository directory is registered where it is and never
// deleted (whatever the mode). A different file under the same name in the
// directory is a *CollisionError: add never replaces a file.
func (r *Repo) Add(ctx context.Context, files []string, mode AddMode) (*Result, error) {
	if len(files) == 0 {
		return nil, errors.New("add: no files given")
	}
	args, err := r.readArgs(ctx, files)
	if err != nil {
		return nil, err
	}
	dir := r.dir()
	return r.transact(ctx, "add", scanOptions{useCache: true}, func(s *snapshot, db *dbContent) (*txn, error) {
		t := &txn{command: "add", snap: s, db: db, added: map[string]*addedFile{}, mode: mode}
		byFile := map[string]*pkgFile{}
		for i := range s.files {
			byFile[s.files[i].Filename] = &s.files[i]
		}
		var added []pkgFile
		var places []Action
		for _, a := range args {
			base := a.file.Filename
			if f := byFile[base]; s.present[base] {
				if f == nil || f.SHA256 != a.file.SHA256 || f.CSize != a.file.CSize {
					if filepath.Dir(a.src) == dir {
						return nil, fmt.Errorf("%s changed since it was read; nothing was added", a.src)
					}
					return nil, &CollisionError{Source: a.src, Existing: filepath.Join(dir, base)}
				}
				// The very file, or an identical one, is there: register it.
				c := *f
				if c.pkg == nil {
					c.pkg = a.file.pkg
				}
				added = append(added, c)
				continue
			}
			if a.sig && s.present[base+".sig"] {
				if sha, _, err := hashFile(filepath.Join(dir, base+".sig")); err != nil || sha != a.sigSHA {
					return nil, &CollisionError{Source: a.src + ".sig", Existing: filepath.Join(dir, base+".sig")}
				}
				a.sig = false // identical signature already there
			}
			a.place = true
			t.added[base] = a
			how := map[AddMode]string{Copy: "copy", Move: "move", Link: "link"}[mode]
			places = append(places, Action{Kind: ActPlace, Name: a.file.Name, File: a.src, To: a.file.Version,
				Reason: how + " into the repository"})
			added = append(added, a.file)
		}
		p, err := planAdd(s, added, places, planOptions{Force: r.opts.Force})
		t.plan = p
		return t, err
	})
}

// readArgs reads every argument of add completely, before the lock.
func (r *Repo) readArgs(ctx context.Context, files []string) ([]*addedFile, error) {
	var args []*addedFile
	var probs []Problem
	seenBase := map[string]string{}
	seenName := map[string]string{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			probs = append(probs, Problem{Path: f, Err: err})
			continue
		}
		pf, prob := readPackage(abs)
		if prob != nil {
			probs = append(probs, *prob)
			continue
		}
		id, err := statID(abs)
		if err != nil || id.Size != pf.CSize || id.MTimeNS != pf.ModTime {
			probs = append(probs, Problem{Path: abs, Kind: pkgfile.Incomplete, Err: errors.New("file changed while being read")})
			continue
		}
		a := &addedFile{src: abs, srcID: id, file: pf}
		if sha, _, err := hashFile(abs + ".sig"); err == nil {
			a.sig, a.sigSHA = true, sha
		} else if !errors.Is(err, os.ErrNotExist) {
			probs = append(probs, Problem{Path: abs + ".sig", Err: err})
			continue
		} else if r.opts.RequireSignature {
			probs = append(probs, Problem{Path: abs, Kind: pkgfile.Incomplete, Err: ErrUnsigned})
			continue
		}
		if prev, dup := seenBase[pf.Filename]; dup {
			probs = append(probs, Problem{Path: abs, Err: fmt.Errorf("same file name as %s", prev)})
			continue
		}
		if prev, dup := seenName[pf.Name]; dup {
			probs = append(probs, Problem{Path: abs, Err: fmt.Errorf("package %s is also given as %s", pf.Name, prev)})
			continue
		}
		seenBase[pf.Filename], seenName[pf.Name] = abs, abs
		args = append(args, a)
	}
	if len(probs) > 0 {
		return nil, &UnreadableFilesError{Problems: probs}
	}
	return args, nil
}

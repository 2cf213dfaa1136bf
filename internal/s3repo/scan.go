package s3repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/version"
)

// bucketScan is what update, reset and status find in the bucket: the
// package objects no commit registers, read completely.
type bucketScan struct {
	objects  map[string]objstore.Object // package file name -> its object
	read     []repodb.Entry             // the unregistered ones that could be read
	problems []repo.Problem             // the unregistered ones that could not
}

// scanBucket lists the package objects and reads those the newest commit
// does not register (registered ones were verified when published).
func (r *Repo) scanBucket(ctx context.Context, st *state) (*bucketScan, error) {
	all, err := r.bucket.List(ctx, r.addr.key(""))
	if err != nil {
		return nil, err
	}
	s := &bucketScan{objects: map[string]objstore.Object{}}
	names := layout.Names{Repo: r.addr.Name}
	prefix := r.addr.key("")
	for _, o := range all {
		name := strings.TrimPrefix(o.Key, prefix)
		if !strings.Contains(name, "/") && names.Classify(name) == layout.Package {
			s.objects[name] = o
		}
	}
	registered := map[string]bool{}
	for _, e := range st.entries {
		registered[e.Filename] = true
	}
	for name, o := range s.objects {
		if registered[name] {
			continue
		}
		e, prob := r.readObject(ctx, name, o)
		if prob != nil {
			s.problems = append(s.problems, *prob)
			continue
		}
		s.read = append(s.read, e)
	}
	slices.SortFunc(s.problems, func(a, b repo.Problem) int { return strings.Compare(a.Path, b.Path) })
	return s, nil
}

// readAndScan reads the repository and scans the bucket.
func (r *Repo) readAndScan(ctx context.Context) (*state, *bucketScan, error) {
	st, err := r.read(ctx)
	if err != nil {
		return nil, nil, err
	}
	scan, err := r.scanBucket(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	return st, scan, nil
}

// readObject reads the package object name completely, as add reads a
// file: archive, .PKGINFO, file list, size and SHA-256.
func (r *Repo) readObject(ctx context.Context, name string, o objstore.Object) (repodb.Entry, *repo.Problem) {
	url := r.addr.URL(o.Key)
	tmp, err := os.CreateTemp("", "pacrepo-s3-*-"+name)
	if err != nil {
		return repodb.Entry{}, &repo.Problem{Path: url, Kind: pkgfile.Unreadable, Err: err}
	}
	defer os.Remove(tmp.Name())
	body, err := r.bucket.GetFrom(ctx, o.Key, 0)
	if err == nil {
		_, err = io.Copy(tmp, body)
		body.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return repodb.Entry{}, &repo.Problem{Path: url, Kind: pkgfile.Unreadable, Err: err}
	}
	p, err := pkgfile.Read(tmp.Name(), pkgfile.ReadOptions{Files: true})
	if err != nil {
		kind := pkgfile.KindOf(err)
		if kind == 0 {
			kind = pkgfile.Corrupt
		}
		// An object is whole once it is visible: what cannot be read is
		// damaged, not still being written.
		if kind == pkgfile.Incomplete {
			kind = pkgfile.Corrupt
		}
		// The reason, without the temporary file's name.
		var pe *pkgfile.Error
		if errors.As(err, &pe) && pe.Err != nil {
			err = pe.Err
		}
		return repodb.Entry{}, &repo.Problem{Path: url, Kind: kind, Err: err}
	}
	if err := repodb.CheckIdentity(p.Name, p.Version); err != nil {
		return repodb.Entry{}, &repo.Problem{Path: url, Kind: pkgfile.Corrupt, Err: fmt.Errorf(".PKGINFO: %w", err)}
	}
	e := repodb.FromPackage(p)
	e.Filename = name
	return e, nil
}

// newestPerName is the newest entry of each name among entries.
func newestPerName(entries []repodb.Entry) map[string]*repodb.Entry {
	out := map[string]*repodb.Entry{}
	for i := range entries {
		e := &entries[i]
		if cur := out[e.Name]; cur == nil || version.Compare(e.Version, cur.Version) > 0 {
			out[e.Name] = e
		}
	}
	return out
}

// Update registers, for the named packages (every name when none is
// given), the newest package object in the bucket when it is newer than
// the registered version: packages uploaded by other means, or by a
// publisher killed before its commit. Objects that cannot be read are
// problems, reported and left alone.
func (r *Repo) Update(ctx context.Context, names []string, dryRun bool) (*repo.Result, error) {
	st, scan, err := r.readAndScan(ctx)
	if err != nil {
		return nil, err
	}
	newest := newestPerName(scan.read)
	if len(names) > 0 {
		known := map[string]bool{}
		for _, e := range st.entries {
			known[e.Name] = true
		}
		for n := range newest {
			known[n] = true
		}
		var unknown []string
		for _, n := range names {
			if !known[n] {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			return nil, &repo.UnknownPackageError{Names: unknown}
		}
	}
	plan := func(st *state) ([]repo.Action, map[string]*repodb.Entry, error) {
		reg := st.byName()
		var acts []repo.Action
		upserts := map[string]*repodb.Entry{}
		for name, c := range newest {
			if len(names) > 0 && !slices.Contains(names, name) {
				continue
			}
			act := registration(c, reg[name], "an object no commit registers")
			if act.Kind != repo.ActNew && act.Kind != repo.ActUpgrade {
				continue
			}
			acts = append(acts, act)
			upserts[name] = c
		}
		slices.SortFunc(acts, func(a, b repo.Action) int { return strings.Compare(a.Name, b.Name) })
		return acts, upserts, nil
	}
	res, err := r.change(ctx, dryRun, st, nil, plan)
	if res != nil {
		res.Plan.Problems = scan.problems
	}
	return res, err
}

// Reset rebuilds the database from the package objects in the bucket: the
// newest readable object of each name is registered (a registered one is
// trusted when its object still has the size and SHA-256 it was published
// with), and entries whose object is gone are dropped. Dropping more than
// half of a repository of more than 10 needs force.
func (r *Repo) Reset(ctx context.Context, dryRun, force bool) (*repo.Result, error) {
	st, scan, err := r.readAndScan(ctx)
	if err != nil {
		return nil, err
	}
	plan := func(st *state) ([]repo.Action, map[string]*repodb.Entry, error) {
		candidates := slices.Clone(scan.read)
		reg := map[string]*repodb.Entry{}
		for i := range st.entries {
			e := &st.entries[i]
			reg[e.Name] = e
			if o, ok := scan.objects[e.Filename]; ok && o.Size == e.CSize {
				candidates = append(candidates, *e)
			}
		}
		newest := newestPerName(candidates)
		var acts []repo.Action
		upserts := map[string]*repodb.Entry{}
		losing := 0
		for name, e := range reg {
			if newest[name] == nil {
				acts = append(acts, repo.Action{Kind: repo.ActUnregister, Name: name, File: e.Filename, From: e.Version, Reason: "its object is gone"})
				losing++
			}
		}
		for name, c := range newest {
			e := reg[name]
			if e != nil && e.Filename == c.Filename && e.SHA256Sum == c.SHA256Sum {
				continue
			}
			acts = append(acts, registration(c, e, "rebuild"))
			upserts[name] = c
		}
		slices.SortFunc(acts, func(a, b repo.Action) int { return strings.Compare(a.Name, b.Name) })
		if total := len(st.entries); !force && total > 10 && 2*losing > total {
			return acts, nil, &repo.RefusedError{Removing: losing, Total: total}
		}
		return acts, upserts, nil
	}
	res, err := r.change(ctx, dryRun, st, nil, plan)
	if res != nil {
		res.Plan.Problems = scan.problems
	}
	return res, err
}

package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// DependencyPackages are the registered packages as the dependency
// judgement takes them (package deps): their entries' depends and
// provides, and the libraries their files provide and need, from the
// verification cache or else read from the files (and recorded in the
// cache). It takes no lock: it reads.
func (r *Repo) DependencyPackages(ctx context.Context) ([]deps.Package, error) {
	loc := r.opts.DB
	entries, err := repodb.Read(loc.DBPath(), repodb.ReadOptions{})
	if errors.Is(err, fs.ErrNotExist) && repodb.KindOf(err) == 0 {
		return nil, r.requireDatabase(&dbContent{missing: true})
	}
	if err != nil {
		return nil, &DBUnreadableError{Path: loc.DBPath(), Err: err}
	}
	keys := make([]repodb.Key, len(entries))
	for i := range entries {
		keys[i] = repodb.KeyOf(&entries[i])
	}
	libs := r.librariesOf(ctx, keys)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]deps.Package, len(entries))
	for i := range entries {
		out[i] = deps.FromEntry(&entries[i], "")
		out[i].Libs = libs[entries[i].Filename]
	}
	return out, nil
}

// UnsatisfiableError refuses a change that would leave packages that
// cannot be installed (Options.Installable "refuse").
type UnsatisfiableError struct {
	Problems []deps.Problem
}

func (e *UnsatisfiableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refusing a change that leaves %s unsatisfiable (installable = \"refuse\"): ", plural(len(e.Problems), "need"))
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// judgeChange returns the problems t's plan would leave that the
// repository does not have now (JudgeChange), when Installable asks for
// the judgement.
func (r *Repo) judgeChange(ctx context.Context, t *txn) ([]deps.Problem, error) {
	if !Judges(r.opts.Installable) || t == nil || !changes(t.plan) {
		return nil, nil
	}
	before, err := r.DependencyPackages(ctx)
	var none *NoDatabaseError
	if errors.As(err, &none) {
		before, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	files := t.plannedFiles()
	var registered []deps.Package
	for _, a := range t.plan.Actions {
		if !isRegister(a.Kind) {
			continue
		}
		f := files[a.File]
		if f == nil {
			return nil, fmt.Errorf("internal error: %s is not a verified file", a.File)
		}
		if f.entry == nil {
			got, prob := readPackage(filepath.Join(r.dir(), f.Filename))
			if prob != nil {
				return nil, fmt.Errorf("%s: %s: %v", prob.Path, prob.Kind, prob.Err)
			}
			f.entry, f.libs = got.entry, got.libs
		}
		p := deps.FromEntry(f.entry, "")
		p.Libs = f.libs
		registered = append(registered, p)
	}
	return JudgeChange(r.opts.Installable, r.opts.Upstream, t.plan, before, registered)
}

// Judges tells whether installable (Options.Installable) asks for a
// change to be judged.
func Judges(installable string) bool { return installable != "" && installable != "off" }

// JudgeChange is the judgement of a change of any store, when installable
// ("warn" or "refuse") asks for one: the problems the packages would have
// after plan that they do not have before it (deps.CheckChange), their
// dependencies met from the repository and the sync databases at
// upstream. before are the registered packages; registered those plan
// registers, with their libraries. Each store feeds it what it holds.
func JudgeChange(installable string, upstream []string, plan *Plan, before, registered []deps.Package) ([]deps.Problem, error) {
	if !Judges(installable) || plan == nil || !changes(plan) {
		return nil, nil
	}
	up, err := deps.LoadUpstream(upstream)
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, a := range plan.Actions {
		if a.Kind == ActUnregister || isRegister(a.Kind) {
			gone[a.Name] = true
		}
	}
	var after []deps.Package
	for _, p := range before {
		if !gone[p.Name] {
			after = append(after, p)
		}
	}
	after = append(after, registered...)
	return deps.CheckChange(before, after, up), nil
}

// Package depsolve finds which AUR package bases must be downloaded to
// build some AUR packages, and in which order: dependencies (depends,
// makedepends, optionally checkdepends) are satisfied first by the
// repository, then by pacman's databases, then by the AUR, honouring
// version constraints and provides as pacman does.
package depsolve

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/version"
)

// Pkg is a package available without the AUR.
type Pkg struct {
	Name     string
	Version  string
	Provides []string
}

// AUR is what the resolver asks the AUR; *aur.Client implements it.
type AUR interface {
	Info(ctx context.Context, names []string) ([]aur.Package, error)
	Search(ctx context.Context, by aur.SearchBy, arg string) ([]aur.Package, error)
}

// Resolver resolves dependencies. Repo and System may be empty.
type Resolver struct {
	Repo         []Pkg // the repository's packages: preferred
	System       []Pkg // pacman's sync databases and installed packages
	AUR          AUR
	CheckDepends bool
}

// Base is one package base to download.
type Base struct {
	Name     string
	Packages []aur.Package // the packages of this base that are needed, by name
}

// Plan is the result of Resolve.
type Plan struct {
	Order []Base // dependencies first
}

// Missing is a dependency nothing satisfies.
type Missing struct {
	Dep        string   // as written, e.g. "foo>=2"
	RequiredBy []string // package names; empty for a target named on the command line
}

// MissingError lists every dependency nothing satisfies.
type MissingError struct{ Missing []Missing }

func (e *MissingError) Error() string {
	var parts []string
	for _, m := range e.Missing {
		if len(m.RequiredBy) == 0 {
			parts = append(parts, fmt.Sprintf("%s not found in the AUR", m.Dep))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (required by %s) not found in the repository, pacman's databases or the AUR",
			m.Dep, strings.Join(m.RequiredBy, ", ")))
	}
	return strings.Join(parts, "; ")
}

// CycleError is a dependency cycle between package bases.
type CycleError struct{ Cycle []string } // first == last

func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Cycle, " -> ")
}

// maxPackages bounds the resolution, against a hostile or broken AUR.
const maxPackages = 10000

type state struct {
	r        *Resolver
	selected map[string]aur.Package // by name: packages to download
	edges    map[string]map[string]bool
	missing  map[string]map[string]bool // dep string -> requirers
	provides map[string][]aur.Package   // cache of provides searches, with full info
}

// Resolve returns the package bases to download for targets (AUR package
// names) and their build order.
func (r *Resolver) Resolve(ctx context.Context, targets []string) (*Plan, error) {
	st := &state{r: r, selected: map[string]aur.Package{}, edges: map[string]map[string]bool{},
		missing: map[string]map[string]bool{}, provides: map[string][]aur.Package{}}
	found, err := r.AUR.Info(ctx, targets)
	if err != nil {
		return nil, err
	}
	byName := map[string]aur.Package{}
	for _, p := range found {
		byName[p.Name] = p
	}
	var queue []aur.Package
	for _, t := range targets {
		p, ok := byName[t]
		if !ok {
			st.addMissing(t, "")
			continue
		}
		if _, dup := st.selected[t]; !dup {
			st.selected[t] = p
			queue = append(queue, p)
		}
	}
	for len(queue) > 0 {
		if len(st.selected) > maxPackages {
			return nil, fmt.Errorf("more than %d AUR packages needed: giving up", maxPackages)
		}
		// One level at a time, so that the AUR is asked in batches.
		type need struct {
			dep version.Depend
			raw string
			by  string
		}
		var needs []need
		for _, p := range queue {
			for _, raw := range st.depsOf(p) {
				d := version.ParseDepend(raw)
				if d.Name == "" {
					continue
				}
				if satisfiedBy(d, r.Repo) || satisfiedBy(d, r.System) {
					continue
				}
				if q, ok := st.selectedSatisfying(d); ok {
					st.edge(p.Name, q.Name)
					continue
				}
				needs = append(needs, need{d, raw, p.Name})
			}
		}
		queue = nil
		names := make([]string, 0, len(needs))
		for _, n := range needs {
			names = append(names, n.dep.Name)
		}
		info, err := r.AUR.Info(ctx, names)
		if err != nil {
			return nil, err
		}
		infoByName := map[string]aur.Package{}
		for _, p := range info {
			infoByName[p.Name] = p
		}
		for _, n := range needs {
			// An earlier need of this level may have selected a provider.
			if q, ok := st.selectedSatisfying(n.dep); ok {
				st.edge(n.by, q.Name)
				continue
			}
			q, ok := infoByName[n.dep.Name]
			if !ok || !n.dep.SatisfiedBy(q.Name, q.Version, q.Provides) {
				q, ok, err = st.providerFor(ctx, n.dep)
				if err != nil {
					return nil, err
				}
			}
			if !ok {
				st.addMissing(n.raw, n.by)
				continue
			}
			st.selected[q.Name] = q
			st.edge(n.by, q.Name)
			queue = append(queue, q)
		}
	}
	if len(st.missing) > 0 {
		return nil, st.missingError()
	}
	return st.order()
}

func (st *state) depsOf(p aur.Package) []string {
	deps := append(append([]string(nil), p.Depends...), p.MakeDepends...)
	if st.r.CheckDepends {
		deps = append(deps, p.CheckDepends...)
	}
	return deps
}

func satisfiedBy(d version.Depend, pkgs []Pkg) bool {
	for i := range pkgs {
		if d.SatisfiedBy(pkgs[i].Name, pkgs[i].Version, pkgs[i].Provides) {
			return true
		}
	}
	return false
}

// selectedSatisfying finds an already selected AUR package satisfying d,
// preferring the one named d.Name, then by name for determinism.
func (st *state) selectedSatisfying(d version.Depend) (aur.Package, bool) {
	if p, ok := st.selected[d.Name]; ok && d.SatisfiedBy(p.Name, p.Version, p.Provides) {
		return p, true
	}
	var names []string
	for n, p := range st.selected {
		if d.SatisfiedBy(p.Name, p.Version, p.Provides) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return aur.Package{}, false
	}
	sort.Strings(names)
	return st.selected[names[0]], true
}

// providerFor asks the AUR which packages provide d.Name and returns the
// satisfying one with the most votes (then by name). Search results lack
// the provides list, so candidates are asked again with info.
func (st *state) providerFor(ctx context.Context, d version.Depend) (aur.Package, bool, error) {
	cands, ok := st.provides[d.Name]
	if !ok {
		if len(d.Name) >= 2 {
			res, err := st.r.AUR.Search(ctx, aur.ByProvides, d.Name)
			if err != nil {
				return aur.Package{}, false, fmt.Errorf("look for a provider of %s: %w", d.Name, err)
			}
			names := make([]string, len(res))
			for i, p := range res {
				names[i] = p.Name
			}
			cands, err = st.r.AUR.Info(ctx, names)
			if err != nil {
				return aur.Package{}, false, err
			}
		}
		st.provides[d.Name] = cands
	}
	var best *aur.Package
	for i := range cands {
		c := &cands[i]
		if !d.SatisfiedBy(c.Name, c.Version, c.Provides) {
			continue
		}
		if best == nil || c.NumVotes > best.NumVotes || c.NumVotes == best.NumVotes && c.Name < best.Name {
			best = c
		}
	}
	if best == nil {
		return aur.Package{}, false, nil
	}
	return *best, true, nil
}

func (st *state) edge(from, to string) {
	if st.edges[from] == nil {
		st.edges[from] = map[string]bool{}
	}
	st.edges[from][to] = true
}

func (st *state) addMissing(dep, by string) {
	if st.missing[dep] == nil {
		st.missing[dep] = map[string]bool{}
	}
	if by != "" {
		st.missing[dep][by] = true
	}
}

func (st *state) missingError() error {
	var e MissingError
	for dep, by := range st.missing {
		m := Missing{Dep: dep}
		for b := range by {
			m.RequiredBy = append(m.RequiredBy, b)
		}
		sort.Strings(m.RequiredBy)
		e.Missing = append(e.Missing, m)
	}
	sort.Slice(e.Missing, func(i, j int) bool { return e.Missing[i].Dep < e.Missing[j].Dep })
	return &e
}

// order groups the selected packages by base and sorts the bases so that
// every base comes after the bases it depends on.
func (st *state) order() (*Plan, error) {
	bases := map[string]*Base{}
	for _, p := range st.selected {
		b := bases[p.Base()]
		if b == nil {
			b = &Base{Name: p.Base()}
			bases[p.Base()] = b
		}
		b.Packages = append(b.Packages, p)
	}
	deps := map[string][]string{}
	for from, tos := range st.edges {
		fb := st.selected[from].Base()
		for to := range tos {
			tb := st.selected[to].Base()
			if tb != fb { // split packages of one base build together
				deps[fb] = append(deps[fb], tb)
			}
		}
	}
	names := make([]string, 0, len(bases))
	for n, b := range bases {
		names = append(names, n)
		sort.Slice(b.Packages, func(i, j int) bool { return b.Packages[i].Name < b.Packages[j].Name })
		d := deps[n]
		sort.Strings(d)
		deps[n] = dedup(d)
	}
	sort.Strings(names)

	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	var stack []string
	plan := &Plan{}
	var visit func(n string) error
	visit = func(n string) error {
		colour[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch colour[d] {
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), d)
				return &CycleError{Cycle: cycle}
			case white:
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[n] = black
		plan.Order = append(plan.Order, *bases[n])
		return nil
	}
	for _, n := range names {
		if colour[n] == white {
			if err := visit(n); err != nil {
				return nil, err
			}
		}
	}
	return plan, nil
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Direct looks targets up in the AUR, without their dependencies, and
// groups them by package base, in name order: what `down` fetches without
// -r. A name the AUR does not know is an error naming it.
func Direct(ctx context.Context, a AUR, targets []string) (*Plan, error) {
	found, err := a.Info(ctx, targets)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]aur.Package, len(found))
	for _, p := range found {
		byName[p.Name] = p
	}
	var missing []string
	bases := map[string]*Base{}
	for _, t := range targets {
		p, ok := byName[t]
		if !ok {
			missing = append(missing, t)
			continue
		}
		b := bases[p.Base()]
		if b == nil {
			b = &Base{Name: p.Base()}
			bases[p.Base()] = b
		}
		if !slices.ContainsFunc(b.Packages, func(q aur.Package) bool { return q.Name == p.Name }) {
			b.Packages = append(b.Packages, p)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not found in the AUR: %s", strings.Join(missing, ", "))
	}
	plan := &Plan{}
	for _, b := range bases {
		plan.Order = append(plan.Order, *b)
	}
	slices.SortFunc(plan.Order, func(a, b Base) int { return strings.Compare(a.Name, b.Name) })
	return plan, nil
}

package deps

import (
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/version"
)

// Rebuild is a package to build again, and why.
type Rebuild struct {
	Package string   `json:"package"`
	Version string   `json:"version"`
	Because []string `json:"because"`
}

// Rebuilds lists the packages of local whose problems in rep a rebuild
// mends (a library now provided at another soname, a dependency whose
// version constraint no longer holds), in build order: each after the
// packages of the list it depends on or links against.
func Rebuilds(local []Package, rep Report) []Rebuild {
	because := map[string][]string{}
	for _, p := range rep.Problems {
		if p.Rebuild {
			because[p.Package] = append(because[p.Package], p.Needs+": "+p.Reason)
		}
	}
	return inBuildOrder(local, because)
}

// Dependents lists the packages of local that would need a rebuild if the
// packages names changed: those linking against a soname one of them
// provides, or depending on one of them (by name or on what it provides)
// with a version constraint. In build order.
func Dependents(local []Package, names []string) []Rebuild {
	changing := map[string]bool{}
	for _, n := range names {
		changing[n] = true
	}
	var changed []*Package
	for i := range local {
		if changing[local[i].Name] {
			changed = append(changed, &local[i])
		}
	}
	u := newUniverse(changed)
	because := map[string][]string{}
	for i := range local {
		p := &local[i]
		if changing[p.Name] {
			continue
		}
		for _, dep := range p.Depends {
			d := version.ParseDepend(dep)
			if d.Op == version.None {
				continue
			}
			for _, pr := range u.byName[d.Name] {
				because[p.Name] = append(because[p.Name], dep+": "+pr.pkg.Name+" "+pr.pkg.Version)
			}
		}
		if p.Libs == nil {
			continue
		}
		for _, s := range p.Libs.Needed {
			prov := s.Provision()
			for _, sp := range u.sonames[sonameKey(prov)] {
				if sp.provision == prov {
					because[p.Name] = append(because[p.Name], s.Name+": "+sp.pkg.Name+" "+sp.pkg.Version)
				}
			}
		}
	}
	return inBuildOrder(local, because)
}

// inBuildOrder orders the packages of local named in because so that each
// comes after those of the list it depends on or links against (Kahn's
// algorithm, ties and cycles broken by name).
func inBuildOrder(local []Package, because map[string][]string) []Rebuild {
	if len(because) == 0 {
		return nil
	}
	var set []*Package
	for i := range local {
		if because[local[i].Name] != nil {
			set = append(set, &local[i])
		}
	}
	u := newUniverse(set)
	after := map[string]map[string]bool{} // package -> the packages of the set it needs
	for _, p := range set {
		needs := map[string]bool{}
		for _, dep := range p.Depends {
			for _, pr := range u.byName[version.ParseDepend(dep).Name] {
				needs[pr.pkg.Name] = true
			}
		}
		if p.Libs != nil {
			for _, s := range p.Libs.Needed {
				for _, sp := range u.sonames[sonameKey(s.Provision())] {
					needs[sp.pkg.Name] = true
				}
			}
		}
		delete(needs, p.Name)
		after[p.Name] = needs
	}
	slices.SortFunc(set, func(a, b *Package) int { return strings.Compare(a.Name, b.Name) })
	var out []Rebuild
	done := map[string]bool{}
	for len(out) < len(set) {
		progressed := false
		for _, p := range set {
			if done[p.Name] {
				continue
			}
			ready := true
			for n := range after[p.Name] {
				if !done[n] {
					ready = false
					break
				}
			}
			if ready {
				out = append(out, rebuildOf(p, because))
				done[p.Name] = true
				progressed = true
			}
		}
		if !progressed { // a cycle: the first by name goes first
			for _, p := range set {
				if !done[p.Name] {
					out = append(out, rebuildOf(p, because))
					done[p.Name] = true
					break
				}
			}
		}
	}
	return out
}

func rebuildOf(p *Package, because map[string][]string) Rebuild {
	b := slices.Clone(because[p.Name])
	slices.Sort(b)
	return Rebuild{Package: p.Name, Version: p.Version, Because: slices.Compact(b)}
}

// Package deps judges whether the packages of a repository can be
// installed: each dependency satisfiable from the repository and its
// upstream repositories, as pacman would satisfy it, and each library a
// package's ELF files need still provided at that soname. It also lists
// the packages that need a rebuild, in build order. It decides only:
// callers read the databases and print.
package deps

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/version"
)

// Package is what the judgement needs of one package.
type Package struct {
	Name, Version string
	Provides      []string // %PROVIDES%: what pacman knows it provides
	Depends       []string // %DEPENDS%
	// Libs are the sonames its ELF files provide and need; nil when not
	// known (an upstream package: its %PROVIDES% says what it provides).
	Libs *pkgfile.Libraries
	// Repo is "" for a package of the repository judged, else the upstream
	// repository it comes from.
	Repo string
}

// Problem kinds.
const (
	KindDepend  = "depend"  // a dependency nothing satisfies
	KindLibrary = "library" // a needed library no longer provided at its soname
)

// Problem is one package need that nothing meets.
type Problem struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
	// Needs is the dependency as written (libfoo>=2) or the soname
	// needed (libfoo.so.1, as DT_NEEDED names it).
	Needs string `json:"needs"`
	// Reason says what there is instead.
	Reason string `json:"reason"`
	// Rebuild says a rebuild of the package mends it: a library now
	// provided at another soname, or a package of the dependency's name
	// at a version outside its constraint.
	Rebuild bool `json:"rebuild"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s %s needs %s: %s", p.Package, p.Version, p.Needs, p.Reason)
}

// External is a library a package needs that no package known provides
// at any soname (the C library, with no upstream repository named): not
// judged.
type External struct {
	Package string `json:"package"`
	Library string `json:"library"`
}

// Report is the judgement of a repository.
type Report struct {
	Problems []Problem  `json:"problems"`
	External []External `json:"external"`
}

// provider is one package that provides a name, with the version it
// provides it at ("" when unversioned).
type provider struct {
	pkg     *Package
	version string
	self    bool // the package's own name
}

// universe indexes every package known by the names it satisfies and the
// sonames it provides.
type universe struct {
	byName map[string][]provider
	// sonames: "libfoo.so-64" (name and class) -> the provisions
	// ("libfoo.so=1-64") and who makes them.
	sonames map[string][]sonameProvider
}

type sonameProvider struct {
	provision string
	pkg       *Package
}

// sonameKey is the key of sonames for a provision libfoo.so=1-64: the
// name and the class, or "" when p is not a soname provision.
func sonameKey(p string) string {
	d := version.ParseDepend(p)
	if d.Op != version.EQ || !strings.Contains(d.Name, ".so") {
		return ""
	}
	i := strings.LastIndexByte(d.Version, '-')
	if i < 0 {
		return ""
	}
	return d.Name + d.Version[i:]
}

func newUniverse(pkgs []*Package) *universe {
	u := &universe{byName: make(map[string][]provider, len(pkgs)*2), sonames: map[string][]sonameProvider{}}
	for _, p := range pkgs {
		u.byName[p.Name] = append(u.byName[p.Name], provider{pkg: p, version: p.Version, self: true})
		for _, pr := range p.Provides {
			d := version.ParseDepend(pr)
			u.byName[d.Name] = append(u.byName[d.Name], provider{pkg: p, version: d.Version})
			if k := sonameKey(pr); k != "" {
				u.sonames[k] = append(u.sonames[k], sonameProvider{provision: pr, pkg: p})
			}
		}
		if p.Libs != nil {
			for _, s := range p.Libs.Provides {
				prov := s.Provision()
				u.sonames[sonameKey(prov)] = append(u.sonames[sonameKey(prov)], sonameProvider{provision: prov, pkg: p})
			}
		}
	}
	return u
}

// satisfied tells whether d is satisfied by a package known, pacman's way
// (version.Depend.SatisfiedBy); when not, it says what there is.
func (u *universe) satisfied(d version.Depend) (ok bool, reason string, rebuild bool) {
	var seen []string
	for _, pr := range u.byName[d.Name] {
		p := pr.pkg
		if d.SatisfiedBy(p.Name, p.Version, p.Provides) {
			return true, "", false
		}
		if pr.self {
			seen = append(seen, p.Name+" "+p.Version+where(p))
			rebuild = true
		} else {
			seen = append(seen, p.Name+" "+p.Version+where(p)+" provides "+d.Name+versionSuffix(pr.version))
		}
	}
	if len(seen) == 0 {
		return false, "nothing provides it", false
	}
	slices.Sort(seen)
	return false, "only " + strings.Join(slices.Compact(seen), ", ") + " (outside the constraint)", rebuild
}

func versionSuffix(v string) string {
	if v == "" {
		return ""
	}
	return "=" + v
}

// where names an upstream package's repository.
func where(p *Package) string {
	if p.Repo == "" {
		return ""
	}
	return " (" + p.Repo + ")"
}

// Check judges every package of local (the repository) against local and
// upstream together. Problems are sorted by package, then need.
func Check(local, upstream []Package) Report {
	all := make([]*Package, 0, len(local)+len(upstream))
	for i := range local {
		all = append(all, &local[i])
	}
	for i := range upstream {
		all = append(all, &upstream[i])
	}
	u := newUniverse(all)
	var rep Report
	for i := range local {
		p := &local[i]
		for _, dep := range p.Depends {
			d := version.ParseDepend(dep)
			if ok, reason, rebuild := u.satisfied(d); !ok {
				rep.Problems = append(rep.Problems, Problem{Package: p.Name, Version: p.Version, Kind: KindDepend,
					Needs: dep, Reason: reason, Rebuild: rebuild})
			}
		}
		if p.Libs == nil {
			continue
		}
		for _, s := range p.Libs.Needed {
			prov := s.Provision()
			known := u.sonames[sonameKey(prov)]
			if len(known) == 0 {
				rep.External = append(rep.External, External{Package: p.Name, Library: s.Name})
				continue
			}
			var instead []string
			found := false
			for _, sp := range known {
				if sp.provision == prov {
					found = true
					break
				}
				instead = append(instead, sp.provision+" by "+sp.pkg.Name+" "+sp.pkg.Version+where(sp.pkg))
			}
			if !found {
				slices.Sort(instead)
				rep.Problems = append(rep.Problems, Problem{Package: p.Name, Version: p.Version, Kind: KindLibrary,
					Needs: s.Name, Reason: "no longer provided at that soname: only " + strings.Join(slices.Compact(instead), ", "),
					Rebuild: true})
			}
		}
	}
	slices.SortFunc(rep.Problems, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Package, b.Package), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Needs, b.Needs))
	})
	slices.SortFunc(rep.External, func(a, b External) int {
		return cmp.Or(strings.Compare(a.Package, b.Package), strings.Compare(a.Library, b.Library))
	})
	rep.External = slices.Compact(rep.External)
	return rep
}

// CheckChange judges a change of the repository from before to after: the
// problems of after that before did not have. A library provided before
// the change and by nothing after it is a problem too (not external):
// the change removed it.
func CheckChange(before, after, upstream []Package) []Problem {
	had := map[string]bool{}
	key := func(p Problem) string { return p.Package + "\x00" + p.Kind + "\x00" + p.Needs }
	for _, p := range Check(before, upstream).Problems {
		had[key(p)] = true
	}
	rep := Check(after, upstream)
	var out []Problem
	for _, p := range rep.Problems {
		if !had[key(p)] {
			out = append(out, p)
		}
	}
	if len(rep.External) == 0 {
		return out
	}
	prev := make([]*Package, 0, len(before))
	for i := range before {
		prev = append(prev, &before[i])
	}
	known := newUniverse(prev)
	byName := map[string]*Package{}
	for i := range after {
		byName[after[i].Name] = &after[i]
	}
	for _, e := range rep.External {
		p := byName[e.Package]
		for _, s := range p.Libs.Needed {
			if s.Name != e.Library {
				continue
			}
			for _, sp := range known.sonames[sonameKey(s.Provision())] {
				if sp.provision == s.Provision() {
					out = append(out, Problem{Package: p.Name, Version: p.Version, Kind: KindLibrary, Needs: s.Name,
						Reason: "no longer provided: " + sp.pkg.Name + " " + sp.pkg.Version + " provided it", Rebuild: false})
					break
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.Package, b.Package), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Needs, b.Needs))
	})
	return slices.CompactFunc(out, func(a, b Problem) bool { return key(a) == key(b) })
}

package aur

import (
	"context"
	"path"
	"sort"

	"github.com/pacrepo/pacrepo/internal/version"
)

// Installed is a package registered in the repository.
type Installed struct {
	Name    string
	Version string
}

// Upgrade compares a registered package with the AUR.
type Upgrade struct {
	Name      string
	Base      string // the AUR package base (what down downloads)
	Local     string // version in the repository
	AUR       string // version in the AUR
	OutOfDate bool   // the AUR version is flagged out of date
}

// UpgradeStatus sorts the registered packages by their AUR status.
type UpgradeStatus struct {
	Upgrades   []Upgrade // the AUR has a newer version
	NewerLocal []Upgrade // the repository has a newer version than the AUR
	NotInAUR   []string  // unknown to the AUR
	Ignored    []string  // matched an ignore pattern: not asked
	Current    []Upgrade // same version
}

// UpgradeOptions tune Upgrades.
type UpgradeOptions struct {
	Ignore   []string   // names or shell patterns (path.Match) not to check, e.g. the profile's ignore_aur
	Mode     LookupMode // RPC or metadata dump; LookupAuto picks by count
	CacheDir string     // for the dump; "" is DefaultCacheDir
}

// Upgrades compares registered packages with the AUR using pacman's
// version comparison. Each list is sorted by name. A repository of
// thousands of packages costs a few batched requests, or one conditional
// download of the metadata dump above MetaThreshold names.
func Upgrades(ctx context.Context, c *Client, registered []Installed, opts UpgradeOptions) (*UpgradeStatus, error) {
	st := &UpgradeStatus{}
	var ask []Installed
	for _, r := range registered {
		if ignored(r.Name, opts.Ignore) {
			st.Ignored = append(st.Ignored, r.Name)
			continue
		}
		ask = append(ask, r)
	}
	names := make([]string, len(ask))
	for i, r := range ask {
		names[i] = r.Name
	}
	found, err := c.Lookup(ctx, names, opts.Mode, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	for _, r := range ask {
		p, ok := found[r.Name]
		if !ok {
			st.NotInAUR = append(st.NotInAUR, r.Name)
			continue
		}
		u := Upgrade{Name: r.Name, Base: p.Base(), Local: r.Version, AUR: p.Version, OutOfDate: p.IsOutOfDate()}
		switch c := version.Compare(p.Version, r.Version); {
		case c > 0:
			st.Upgrades = append(st.Upgrades, u)
		case c < 0:
			st.NewerLocal = append(st.NewerLocal, u)
		default:
			st.Current = append(st.Current, u)
		}
	}
	for _, l := range [][]Upgrade{st.Upgrades, st.NewerLocal, st.Current} {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	sort.Strings(st.NotInAUR)
	sort.Strings(st.Ignored)
	return st, nil
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if p == name {
			return true
		}
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
	}
	return false
}

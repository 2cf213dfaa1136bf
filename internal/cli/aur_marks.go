package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// aurStatus asks the AUR about registered packages: in batches, or through
// the cached metadata dump for large repositories (aur.LookupAuto).
func (g *Globals) aurStatus(ctx context.Context, p *config.Profile, registered []aur.Installed) (*aur.UpgradeStatus, error) {
	st, err := aur.Upgrades(ctx, g.newAURClient(p), registered, aur.UpgradeOptions{Ignore: p.IgnoreAUR, Mode: aur.LookupAuto})
	if err != nil {
		return nil, fmt.Errorf("ask the AUR: %w", err)
	}
	return st, nil
}

// addAURStatus adds repoctl's upgrade(a->b) flag, and !aur with missing,
// to the status lines of registered packages (only names, when given).
func (g *Globals) addAURStatus(ctx context.Context, r *repo.Repo, sel *profileSelection, lines []packageStatus, names []string, missing bool) ([]packageStatus, error) {
	entries, err := r.Entries(ctx)
	if err != nil {
		return nil, err
	}
	var registered []aur.Installed
	for _, e := range entries {
		if len(names) == 0 || slices.Contains(names, e.Name) {
			registered = append(registered, aur.Installed{Name: e.Name, Version: e.Version})
		}
	}
	st, err := g.aurStatus(ctx, sel.Profile, registered)
	if err != nil {
		return lines, g.aurUnavailable(err, "upgrades in the AUR are unknown")
	}
	index := map[string]int{}
	for i, l := range lines {
		index[l.Name] = i
	}
	flag := func(name, f string) {
		i, ok := index[name]
		if !ok {
			lines = append(lines, packageStatus{Name: name, Flags: []string{}, Actions: []planAction{}})
			i = len(lines) - 1
			index[name] = i
		}
		lines[i].Flags = append(lines[i].Flags, f)
	}
	for _, u := range st.Upgrades {
		f := fmt.Sprintf("upgrade(%s->%s)", u.Local, u.AUR)
		if u.OutOfDate {
			f += " out-of-date"
		}
		flag(u.Name, f)
	}
	if missing {
		for _, n := range st.NotInAUR {
			flag(n, "!aur")
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Name < lines[j].Name })
	return lines, nil
}

// markAUR fills the AUR columns of list -o for the registered rows: with
// "unknown" when the AUR cannot be reached (see aurUnavailable).
func (g *Globals) markAUR(ctx context.Context, sel *profileSelection, rows []listedPackage) error {
	var registered []aur.Installed
	for _, row := range rows {
		if row.Registered {
			registered = append(registered, aur.Installed{Name: row.Name, Version: row.Version})
		}
	}
	st, err := g.aurStatus(ctx, sel.Profile, registered)
	if err != nil {
		err = g.aurUnavailable(err, "the AUR column is unknown")
		var down *aurUnavailableError
		if errors.As(err, &down) {
			for i := range rows {
				if rows[i].Registered {
					rows[i].AUR = "unknown"
				}
			}
		}
		return err
	}
	mark := map[string]listedPackage{}
	for _, u := range st.Upgrades {
		mark[u.Name] = listedPackage{AUR: "newer", AURVersion: u.AUR}
	}
	for _, u := range st.NewerLocal {
		mark[u.Name] = listedPackage{AUR: "older", AURVersion: u.AUR}
	}
	for _, u := range st.Current {
		mark[u.Name] = listedPackage{AUR: "same", AURVersion: u.AUR}
	}
	for _, n := range st.NotInAUR {
		mark[n] = listedPackage{AUR: "missing"}
	}
	for i := range rows {
		if m, ok := mark[rows[i].Name]; ok {
			rows[i].AUR, rows[i].AURVersion = m.AUR, m.AURVersion
		}
	}
	return nil
}

// aurUnavailableError ends a command that printed what it knows locally
// because the AUR could not be reached: exit 3, try again later. The
// warning is printed already.
type aurUnavailableError struct{ err error }

func (e *aurUnavailableError) Error() string { return e.err.Error() }
func (e *aurUnavailableError) Unwrap() error { return e.err }

// aurUnavailable turns an AUR that cannot be reached for now (offline, a
// timeout, rate limited, down) into one warning saying what is unknown,
// and an aurUnavailableError for the command to return once it has
// printed what it knows locally. Any other error is returned as it is.
func (g *Globals) aurUnavailable(err error, unknown string) error {
	if !aur.IsUnavailable(err) {
		return err
	}
	fmt.Fprintf(g.Stderr, "pacrepo: warning: %v; %s, try again later\n", err, unknown)
	return reported(&aurUnavailableError{err})
}

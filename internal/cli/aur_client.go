package cli

import (
	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/config"
)

// aurProfile returns the selected profile for AUR commands that do not
// need a repository (search, query, down without -u/-r): a missing or
// unusable configuration just means defaults. ok reports whether a
// profile with a repository was selected.
func (g *Globals) aurProfile() (p *config.Profile, ok bool) {
	cfg, _, err := g.loadConfig()
	if err == nil {
		if _, sel, err := g.selectProfile(cfg); err == nil && sel != nil {
			return sel, sel.Repo != ""
		}
	}
	return &config.Profile{AURURL: g.AURURL}, false
}

// newAURClient returns a client of --aur-url, else the profile's aur_url,
// else the official AUR.
func (g *Globals) newAURClient(p *config.Profile) *aur.Client {
	u := g.AURURL
	switch {
	case u != "":
	case p != nil:
		u = p.AURBaseURL()
	default:
		u = config.DefaultAURURL
	}
	c := aur.New(u)
	c.UserAgent = "pacrepo/" + pacrepoVersion()
	return c
}

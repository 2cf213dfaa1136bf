package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// DebugProfile is the profile of the repository p routes debug packages
// to (debug_repo): the profile debug_repo names, or the one whose repo is
// the database path it gives, or one with default settings for that path.
// It is nil when debug_repo is not set. The result is a copy.
func (p *Profile) DebugProfile() *Profile {
	if p.debug == nil {
		return nil
	}
	cp := *p.debug
	return &cp
}

// resolveDebugRepos resolves every profile's debug_repo, once all the
// profiles are finished (their repo paths expanded): a profile name, or a
// database path like repo's; never the profile's own repository, whose
// debug packages would then stay where they are while seeming routed.
func (c *Config) resolveDebugRepos(name string) error {
	names := c.ProfileNames()
	for _, pname := range names {
		p := c.Profiles[pname]
		if p.DebugRepo == "" {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s: profiles.%s.debug_repo: %s", name, quoteKey(pname), fmt.Sprintf(format, args...))
		}
		target := c.Profiles[p.DebugRepo]
		if target == nil {
			repo := p.DebugRepo
			if !IsObjectStorage(repo) {
				var err error
				if repo, err = ExpandPath(repo); err != nil {
					return bad("%v", err)
				}
				if !filepath.IsAbs(repo) {
					return bad("%q is neither a profile (have %s) nor an absolute database path", p.DebugRepo, strings.Join(names, ", "))
				}
				repo = filepath.Clean(repo)
			}
			if err := CheckDBName(repo); err != nil {
				return bad("%v", err)
			}
			// The profile of that database, if one has it.
			for _, n := range names {
				if c.Profiles[n].Repo == repo {
					target = c.Profiles[n]
					break
				}
			}
			if target == nil {
				target = &Profile{Repo: repo, LockTimeout: Duration{DefaultLockTimeout}}
			}
		}
		if target == p || target.Repo == p.Repo {
			return bad("%q is the repository itself (%s): name another repository for the debug packages, or leave debug_repo out", p.DebugRepo, p.Repo)
		}
		p.debug = target
	}
	return nil
}

package deps

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/repodb"
)

// LoadUpstream reads the sync databases at paths (pacman's
// sync_db_dir/NAME.db, any compression), each package named with its
// repository NAME. A database that is missing or cannot be read is an
// error: a dependency is never judged unsatisfiable because a repository
// was silently left out.
func LoadUpstream(paths []string) ([]Package, error) {
	var out []Package
	for _, path := range paths {
		entries, err := repodb.Read(path, repodb.ReadOptions{})
		if err != nil {
			return nil, fmt.Errorf("upstream database %s: %w", path, err)
		}
		repo := strings.TrimSuffix(filepath.Base(path), ".db")
		for i := range entries {
			out = append(out, FromEntry(&entries[i], repo))
		}
	}
	return out, nil
}

// FromEntry is the Package of a database entry of repository repo ("" for
// the repository judged); its libraries are not known.
func FromEntry(e *repodb.Entry, repo string) Package {
	return Package{Name: e.Name, Version: e.Version, Provides: e.Provides, Depends: e.Depends, Repo: repo}
}

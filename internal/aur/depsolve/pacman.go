package depsolve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/pacrepo/pacrepo/internal/repodb"
)

// FromEntries turns database entries into resolver packages.
func FromEntries(entries []repodb.Entry) []Pkg {
	out := make([]Pkg, len(entries))
	for i, e := range entries {
		out[i] = Pkg{Name: e.Name, Version: e.Version, Provides: e.Provides}
	}
	return out
}

// LoadPacman reads pacman's sync databases (syncDir/*.db) and installed
// packages (localDir/NAME-VERSION/desc) in-process. A directory that does
// not exist (no pacman on this machine) contributes nothing; a database
// that exists but cannot be read is an error, so that a dependency is
// never fetched from the AUR because a database was silently skipped.
func LoadPacman(syncDir, localDir string) ([]Pkg, error) {
	var out []Pkg
	if syncDir != "" {
		dbs, err := filepath.Glob(filepath.Join(syncDir, "*.db"))
		if err != nil {
			return nil, err
		}
		sort.Strings(dbs)
		for _, db := range dbs {
			entries, err := repodb.Read(db, repodb.ReadOptions{})
			if err != nil {
				return nil, fmt.Errorf("pacman sync database %s: %w", db, err)
			}
			out = append(out, FromEntries(entries)...)
		}
	}
	if localDir != "" {
		dirs, err := os.ReadDir(localDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pacman local database %s: %w", localDir, err)
		}
		for _, d := range dirs {
			if !d.IsDir() {
				continue // ALPM_DB_VERSION and the like
			}
			desc := filepath.Join(localDir, d.Name(), "desc")
			f, err := os.Open(desc)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			var e repodb.Entry
			err = repodb.ParseDesc(f, &e)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("pacman local database %s: %w", desc, err)
			}
			out = append(out, Pkg{Name: e.Name, Version: e.Version, Provides: e.Provides})
		}
	}
	return out, nil
}

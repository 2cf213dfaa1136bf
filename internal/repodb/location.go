package repodb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/layout"
)

// parseDBName parses a base name NAME.db.tar[.EXT] or NAME.files.tar[.EXT]
// in dir (the names are internal/layout's).
func parseDBName(dir, base string) (Location, bool) {
	name, _, ext, ok := layout.SplitDatabase(base)
	if !ok {
		return Location{}, false
	}
	return Location{Dir: dir, Name: name, Ext: ext}, true
}

// ParseLocation parses PATH/NAME.db.tar[.EXT] (or NAME.files.tar[.EXT]). The
// link PATH/NAME.db (or NAME.files) is accepted when it is a symbolic link
// to such a file; Dir is then the directory of the link's target.
func ParseLocation(path string) (Location, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Location{}, fmt.Errorf("database path %s: %w", path, err)
	}
	dir, base := filepath.Split(abs)
	dir = filepath.Clean(dir)
	if loc, ok := parseDBName(dir, base); ok {
		return loc, nil
	}
	if name, ok := strings.CutSuffix(base, ".db"); ok && name != "" {
		return resolveLink(path, abs)
	}
	if name, ok := strings.CutSuffix(base, ".files"); ok && name != "" {
		return resolveLink(path, abs)
	}
	return Location{}, fmt.Errorf("%s: %w: expected NAME.db.tar.EXT or NAME.files.tar.EXT with EXT one of %s",
		path, ErrInvalidLocation, strings.Join(layout.DatabaseExtensions[1:], ", ")+" (or plain .tar)")
}

// resolveLink turns the NAME.db link into the archive it points to.
func resolveLink(path, abs string) (Location, error) {
	target, err := os.Readlink(abs)
	if err != nil {
		var hint string
		if fi, serr := os.Lstat(abs); serr == nil && fi.Mode().IsRegular() {
			hint = "it is a regular file, not a link to the archive"
		} else if errors.Is(serr, fs.ErrNotExist) {
			hint = "it does not exist"
		} else {
			hint = "it is not a symbolic link"
		}
		return Location{}, fmt.Errorf("%s: %w: %s; give the archive path NAME.db.tar.EXT instead",
			path, ErrInvalidLocation, hint)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(abs), target)
	}
	dir, base := filepath.Split(target)
	if loc, ok := parseDBName(filepath.Clean(dir), base); ok {
		return loc, nil
	}
	return Location{}, fmt.Errorf("%s: %w: it links to %s, which is not NAME.db.tar.EXT",
		path, ErrInvalidLocation, target)
}

// DBFile is the base name of the package database, NAME.db.tar.EXT.
func (l Location) DBFile() string { return l.Name + ".db" + l.Ext }

// FilesFile is the base name of the files database, NAME.files.tar.EXT.
func (l Location) FilesFile() string { return l.Name + ".files" + l.Ext }

// DBPath is Dir/NAME.db.tar.EXT.
func (l Location) DBPath() string { return filepath.Join(l.Dir, l.DBFile()) }

// FilesPath is Dir/NAME.files.tar.EXT.
func (l Location) FilesPath() string { return filepath.Join(l.Dir, l.FilesFile()) }

// DBLink is Dir/NAME.db, the link pacman downloads.
func (l Location) DBLink() string { return filepath.Join(l.Dir, l.Name+".db") }

// FilesLink is Dir/NAME.files, the link pacman -F downloads.
func (l Location) FilesLink() string { return filepath.Join(l.Dir, l.Name+".files") }

// Lockfile is the lock file repo-add creates while it works,
// DBPath()+".lck". (repo-add names it after the path it was given, which
// is the db path in every documented use.)
func (l Location) Lockfile() string { return l.DBPath() + ".lck" }

func (l Location) validate() error {
	if l.Dir == "" || l.Name == "" || strings.ContainsAny(l.Name, "/\x00") || !slices.Contains(layout.DatabaseExtensions, l.Ext) {
		return fmt.Errorf("%w: %+v", ErrInvalidLocation, l)
	}
	return nil
}

// DatabasesIn returns the package databases NAME.db.tar[.EXT] in dir, in
// name order (not their .old copies, links, files databases or anyone's
// temporaries).
func DatabasesIn(dir string) ([]Location, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var locs []Location
	for _, d := range des {
		// A writer's temporary (.pacrepo-tmp-...-NAME.db.tar.zst) ends like
		// a database; the classifier knows it is none.
		if loc, ok := parseDBName(dir, d.Name()); ok && loc.DBFile() == d.Name() &&
			(layout.Names{Repo: loc.Name}).Classify(d.Name()) == layout.Database {
			locs = append(locs, loc)
		}
	}
	return locs, nil
}

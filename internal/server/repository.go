package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// Repository is one repository served under /Name/.
type Repository struct {
	Name string // repository name: the NAME of NAME.db.tar.*
	Dir  string // directory holding the database and the packages
	// Objects, instead of Dir, is a repository in object storage, at
	// ObjectsURL (for messages).
	Objects    Objects
	ObjectsURL string
	// Keyring, when set, verifies the package signatures the package
	// pages show.
	Keyring *signature.Keyring
	// Retired is the directory retired package files are moved to
	// (backup_dir; "" when there is none). A package file (or its .sig)
	// the repository no longer holds is served from there for Grace
	// after it was moved: a client holding an older database still
	// finds every file it names.
	Retired string
	Grace   time.Duration
}

// Objects is a repository in object storage as host serves it.
type Objects interface {
	// Resolve is the object serving the public file name: the same
	// content for as long as the object exists (objstore.ErrNotFound when
	// there is none).
	Resolve(ctx context.Context, name string) (objstore.Object, error)
	// ResolveGeneration is the object serving the database name (or its
	// .sig) as generation gen has it, and gen; the newest generation's,
	// and its number, when gen < 0 or generation gen is gone. The
	// object's Modified is the generation's time.
	ResolveGeneration(ctx context.Context, name string, gen int64) (objstore.Object, int64, error)
	// OpenAt reads obj from byte offset off.
	OpenAt(ctx context.Context, obj objstore.Object, off int64) (io.ReadCloser, error)
}

// RepositoryAt returns the repository of a database path
// (PATH/NAME.db.tar[.EXT], PATH/NAME.files.tar[.EXT] or the link
// PATH/NAME.db) or of a directory that holds exactly one database.
func RepositoryAt(path string) (Repository, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Repository{}, fmt.Errorf("repository %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err == nil && fi.IsDir() {
		return repositoryInDir(abs)
	}
	dir, base := filepath.Split(abs)
	name, ok := repoNameOf(base)
	if !ok {
		return Repository{}, fmt.Errorf("repository %s: not a database name (want NAME.db.tar.EXT)", path)
	}
	if fi, err := os.Stat(dir); err != nil {
		return Repository{}, fmt.Errorf("repository %s: %w", path, err)
	} else if !fi.IsDir() {
		return Repository{}, fmt.Errorf("repository %s: %s is not a directory", path, dir)
	}
	return Repository{Name: name, Dir: filepath.Clean(dir)}, nil
}

// repoNameOf extracts NAME from NAME.db, NAME.files, NAME.db.tar[.EXT] or
// NAME.files.tar[.EXT].
func repoNameOf(base string) (string, bool) {
	for _, kind := range []string{".db", ".files"} {
		if name, ok := strings.CutSuffix(base, kind); ok && layout.ValidRepoName(name) {
			return name, true
		}
	}
	if name, _, _, ok := layout.SplitDatabase(base); ok && layout.ValidRepoName(name) {
		return name, true
	}
	return "", false
}

func repositoryInDir(dir string) (Repository, error) {
	locs, err := repodb.DatabasesIn(dir)
	if err != nil {
		return Repository{}, fmt.Errorf("repository %s: %w", dir, err)
	}
	var names []string
	for _, l := range locs {
		if layout.ValidRepoName(l.Name) {
			names = append(names, l.Name)
		}
	}
	switch len(names) {
	case 0:
		return Repository{}, fmt.Errorf("repository %s: no database NAME.db.tar.EXT in the directory", dir)
	case 1:
		return Repository{Name: names[0], Dir: dir}, nil
	}
	return Repository{}, fmt.Errorf("repository %s: several databases (%s): name one", dir, strings.Join(names, ", "))
}

package server

// Symbolic links in a repository directory. A public name that is a link
// is served only when the link leads to a file that is public in its own
// right:
//
//   - A link whose chain stays in the directory (every target a plain file
//     name) is served when its final target is a regular file of the same
//     class: a package for a package name, a signature for a signature, a
//     database of the same kind (db or files) for a database or its
//     NAME.db / NAME.files link. A link to the lock, the journal, a
//     temporary, an .old database or anything in backup/ is not served.
//   - Any other link (absolute, into a subdirectory, out of the directory)
//     is served only with Options.FollowExternalLinks, only for packages
//     and signatures, only when the requested name is registered in the
//     repository's database (a package file name, or one with .sig added),
//     and only when the final target is a regular file outside the
//     repository directory: what `add --link` makes, and nothing else.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// maxLinkHops bounds a chain of links, as the kernel does.
const maxLinkHops = 40

// errNotPublic: a link whose target is not a public file of the same class.
var errNotPublic = errors.New("symbolic link to a file that is not public")

// openPublic opens the public file name (of class kind) of repo.
func (h *handler) openPublic(repo Repository, name string, kind layout.Kind) (*os.File, error) {
	root, err := os.OpenRoot(repo.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	final, external, err := resolveFlat(root, name)
	if err != nil {
		return nil, err
	}
	if external {
		return h.openExternal(repo, name, kind)
	}
	if final != name && !sameClass(repo.Name, name, kind, final) {
		return nil, fmt.Errorf("%s -> %s: %w", name, final, errNotPublic)
	}
	return root.OpenFile(final, openFlags|noFollow, 0)
}

// resolveFlat follows name's chain of links while each target is a plain
// file name of the directory. It returns the final name, or external when
// a link leads anywhere else (absolute, a subdirectory, out, a loop).
func resolveFlat(root *os.Root, name string) (final string, external bool, err error) {
	cur := name
	for range maxLinkHops {
		fi, err := root.Lstat(cur)
		if err != nil {
			return "", false, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return cur, false, nil
		}
		target, err := root.Readlink(cur)
		if err != nil {
			return "", false, err
		}
		if filepath.IsAbs(target) || strings.ContainsRune(target, '/') || target == "." || target == ".." || target == "" {
			return "", true, nil
		}
		cur = target
	}
	return "", true, nil
}

// sameClass tells whether a link named name of class kind may serve the
// file target.
func sameClass(repoName, name string, kind layout.Kind, target string) bool {
	tk := publicKind(repoName, target)
	switch kind {
	case layout.Package, layout.Signature:
		return tk == kind
	case layout.Database, layout.DatabaseLink:
		return tk == layout.Database && dbKind(repoName, name) == dbKind(repoName, target)
	}
	return false
}

// dbKind is ".db" or ".files" for a database name or link of repoName.
func dbKind(repoName, name string) string {
	if strings.HasPrefix(name, repoName+".files") {
		return ".files"
	}
	return ".db"
}

// openExternal opens a link that leads out of the flat directory, when
// FollowExternalLinks allows it (see the top of this file).
func (h *handler) openExternal(repo Repository, name string, kind layout.Kind) (*os.File, error) {
	if !h.opts.FollowExternalLinks || (kind != layout.Package && kind != layout.Signature) {
		return nil, fmt.Errorf("%s: %w", name, errOutside)
	}
	registered, err := h.registered.of(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", name, errOutside, err)
	}
	if !registered[strings.TrimSuffix(name, ".sig")] || (kind == layout.Signature && !strings.HasSuffix(name, ".sig")) {
		return nil, fmt.Errorf("%s: not registered: %w", name, errOutside)
	}
	final, err := filepath.EvalSymlinks(filepath.Join(repo.Dir, name))
	if err != nil {
		return nil, err
	}
	dir, err := filepath.EvalSymlinks(repo.Dir)
	if err != nil {
		return nil, err
	}
	if final == dir || strings.HasPrefix(final, dir+string(filepath.Separator)) {
		return nil, fmt.Errorf("%s -> %s: %w", name, final, errNotPublic)
	}
	return os.OpenFile(final, openFlags|noFollow, 0)
}

// registeredFiles remembers the package file names each repository's
// database registers, read again only when the database file changes.
type registeredFiles struct {
	mu    sync.Mutex
	cache map[string]registeredSet // by database path
}

type registeredSet struct {
	identity string // the database file's ETag: device, inode, size, time
	files    map[string]bool
}

func (c *registeredFiles) of(repo Repository) (map[string]bool, error) {
	locs, err := repodb.DatabasesIn(repo.Dir)
	if err != nil {
		return nil, err
	}
	var db string
	for _, l := range locs {
		if l.Name == repo.Name {
			db = l.DBPath()
		}
	}
	if db == "" {
		return nil, fmt.Errorf("no database %s.db.tar.* in %s", repo.Name, repo.Dir)
	}
	fi, err := os.Stat(db)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if set, ok := c.cache[db]; ok && set.identity == etagOf(fi) {
		return set.files, nil
	}
	entries, err := repodb.Read(db, repodb.ReadOptions{})
	if err != nil {
		return nil, err
	}
	set := registeredSet{identity: etagOf(fi), files: make(map[string]bool, len(entries))}
	for _, e := range entries {
		set.files[e.Filename] = true
	}
	if c.cache == nil {
		c.cache = map[string]registeredSet{}
	}
	c.cache[db] = set
	return set.files, nil
}

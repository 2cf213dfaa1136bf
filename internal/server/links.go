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
//     repository directory that is the registered file: what `add --link`
//     makes, and nothing else. Whoever can re-point a link (or replace its
//     target) must not get another file served, so a package's target must
//     have the size and the SHA-256 the database registers, and a
//     signature's target must be one OpenPGP signature, the very one the
//     database holds when it holds one (%PGPSIG%). Hashing a package on
//     every request would cost its whole size each time: the hash is
//     remembered for the target's identity (device, inode, size, times),
//     which a re-pointed link or a rewritten file does not keep.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
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

// dbKind is ".db", ".files" or ".links" for a database name or link of
// repoName.
func dbKind(repoName, name string) string {
	for _, kind := range []string{".files", ".links"} {
		if strings.HasPrefix(name, repoName+kind) {
			return kind
		}
	}
	return ".db"
}

// openExternal opens a link that leads out of the flat directory, when
// FollowExternalLinks allows it (see the top of this file).
func (h *handler) openExternal(repo Repository, name string, kind layout.Kind) (*os.File, error) {
	if !h.opts.FollowExternalLinks || (kind != layout.Package && kind != layout.Signature) {
		return nil, fmt.Errorf("%s: %w", name, errOutside)
	}
	set, err := h.registered.of(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", name, errOutside, err)
	}
	reg, ok := set.files[strings.TrimSuffix(name, ".sig")]
	if !ok || (kind == layout.Signature && !strings.HasSuffix(name, ".sig")) {
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
	f, err := os.OpenFile(final, openFlags|noFollow, 0)
	if err != nil {
		return nil, err
	}
	if err := set.checkTarget(f, name, kind, reg); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s -> %s: %w", name, final, err)
	}
	return f, nil
}

// errNotRegistered: a link outside leads to a file that is not the one
// the database registers under its name.
var errNotRegistered = fmt.Errorf("not the registered file: %w", errNotPublic)

// checkTarget tells whether the open file f, the target of the external
// link name (of class kind, registered as reg), is the registered file.
// It reads f at offsets only, leaving it at its start for serving.
func (s *registeredSet) checkTarget(f *os.File, name string, kind layout.Kind, reg registeredFile) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file: %w", errNotPublic)
	}
	if kind == layout.Signature {
		return checkSignatureTarget(f, fi.Size(), reg)
	}
	if reg.sha256 == "" {
		return fmt.Errorf("the database has no SHA-256 to check it against: %w", errNotRegistered)
	}
	if fi.Size() != reg.size {
		return fmt.Errorf("%d bytes, registered %d: %w", fi.Size(), reg.size, errNotRegistered)
	}
	sum, err := s.hashOf(name, f, fi)
	if err != nil {
		return err
	}
	if !strings.EqualFold(sum, reg.sha256) {
		return fmt.Errorf("SHA-256 %s, registered %s: %w", sum, reg.sha256, errNotRegistered)
	}
	return nil
}

// hashOf returns the SHA-256 of f (fi is its Stat), the target of the
// link name: remembered when f is the file last hashed for name, else read
// once, however many requests ask for it at the same time.
func (s *registeredSet) hashOf(name string, f *os.File, fi fs.FileInfo) (string, error) {
	id := fsutil.IDOf(fi)
	if sum, ok := s.knownHash(name, id); ok {
		return sum, nil
	}
	l := s.hashing(name)
	l.Lock()
	defer l.Unlock()
	if sum, ok := s.knownHash(name, id); ok {
		return sum, nil // another request just read it
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	after, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fsutil.IDOf(after) != id {
		return "", fmt.Errorf("changed while it was read: %w", errNotRegistered)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.hashes[name] = targetHash{id: id, sha256: sum}
	s.mu.Unlock()
	return sum, nil
}

// checkSignatureTarget tells whether f (size bytes) is one OpenPGP
// signature, and the one the database holds when it holds one.
func checkSignatureTarget(f *os.File, size int64, reg registeredFile) error {
	// An armored signature is larger than its binary form.
	if size > 4*signature.MaxSize {
		return fmt.Errorf("%d bytes, too large for a signature: %w", size, errNotRegistered)
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, size))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	sig, err := signature.Decode(b)
	if err != nil {
		return fmt.Errorf("not a signature (%v): %w", err, errNotRegistered)
	}
	if reg.pgpSig == "" {
		return nil
	}
	registered, err := base64.StdEncoding.DecodeString(reg.pgpSig)
	if err != nil || !bytes.Equal(sig, registered) {
		return fmt.Errorf("not the signature the database holds: %w", errNotRegistered)
	}
	return nil
}

// registeredFiles remembers the package files each repository's database
// registers, read again only when the database file changes.
type registeredFiles struct {
	mu    sync.Mutex
	cache map[string]*registeredSet // by database path
}

// registeredSet is what one version of a database registers, and the
// hashes of the external link targets checked against it.
type registeredSet struct {
	identity string                    // the database file's ETag: device, inode, size, time
	files    map[string]registeredFile // by package file name

	mu     sync.Mutex
	hashes map[string]targetHash  // by link name: its target, last hashed
	locks  map[string]*sync.Mutex // by link name: held while hashing its target
}

// registeredFile is what the database says of a package file.
type registeredFile struct {
	size   int64
	sha256 string
	pgpSig string // base64 of the detached signature; "" when the database holds none
}

// targetHash is the SHA-256 of a link's target while it is the file of
// identity id.
type targetHash struct {
	id     fsutil.FileID
	sha256 string
}

func (s *registeredSet) knownHash(name string, id fsutil.FileID) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	th, ok := s.hashes[name]
	return th.sha256, ok && th.id == id
}

// hashing is the lock a request holds while it hashes name's target.
func (s *registeredSet) hashing(name string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[name]
	if !ok {
		l = &sync.Mutex{}
		s.locks[name] = l
	}
	return l
}

func (c *registeredFiles) of(repo Repository) (*registeredSet, error) {
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
	old := c.cache[db]
	if old != nil && old.identity == etagOf(fi) {
		return old, nil
	}
	entries, err := repodb.Read(db, repodb.ReadOptions{})
	if err != nil {
		return nil, err
	}
	set := &registeredSet{identity: etagOf(fi), files: make(map[string]registeredFile, len(entries)), hashes: map[string]targetHash{}, locks: map[string]*sync.Mutex{}}
	for _, e := range entries {
		set.files[e.Filename] = registeredFile{size: e.CSize, sha256: e.SHA256Sum, pgpSig: e.PGPSig}
	}
	if old != nil {
		// The hashes are of the targets, not of the database: those of
		// names still registered stay good, so that a change of the
		// repository does not make every linked package be read again.
		old.mu.Lock()
		for name, th := range old.hashes {
			if _, ok := set.files[name]; ok {
				set.hashes[name] = th
			}
		}
		old.mu.Unlock()
	}
	if c.cache == nil {
		c.cache = map[string]*registeredSet{}
	}
	c.cache[db] = set
	return set, nil
}

// openRetired opens name, a package file or its signature, in repo's
// directory of retired files when it was moved there within the grace
// period (its change time is the move's); fs.ErrNotExist otherwise.
func openRetired(repo Repository, name string, kind layout.Kind) (*os.File, error) {
	if repo.Retired == "" || repo.Grace <= 0 {
		return nil, fs.ErrNotExist
	}
	if kind != layout.Package && !(kind == layout.Signature && publicKind(repo.Name, strings.TrimSuffix(name, ".sig")) == layout.Package) {
		return nil, fs.ErrNotExist
	}
	root, err := os.OpenRoot(repo.Retired)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	defer root.Close()
	f, err := root.OpenFile(name, openFlags|noFollow, 0)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || time.Since(time.Unix(0, fsutil.IDOf(fi).CTimeNS)) > repo.Grace {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

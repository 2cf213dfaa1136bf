// Package snapshot extracts AUR snapshot tarballs (cgit's
// /cgit/aur.git/snapshot/PKGBASE.tar.gz) safely: the archive is untrusted,
// so no entry may write outside the destination, through a symlink, or
// beyond size limits, and a failed extraction leaves nothing behind.
package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits bound what one snapshot may contain. Real AUR snapshots are a
// few files of a few kilobytes; the defaults leave ample room.
type Limits struct {
	MaxBytes   int64 // total bytes of file contents
	MaxEntries int   // number of archive members
}

// DefaultLimits are used when Options.Limits is zero.
var DefaultLimits = Limits{MaxBytes: 256 << 20, MaxEntries: 10000}

// Options control Extract.
type Options struct {
	Limits  Limits
	Clobber bool // replace an existing DEST/PKGBASE
}

// ErrExists is returned when DEST/PKGBASE exists and Clobber is false.
var ErrExists = errors.New("already exists (use --clobber to replace it)")

// UnsafeError is a hostile or malformed archive member.
type UnsafeError struct {
	Entry  string
	Reason string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("refusing archive member %q: %s", e.Entry, e.Reason)
}

// Target returns where pkgbase is extracted in dest.
func Target(dest, pkgbase string) string { return filepath.Join(dest, pkgbase) }

// CheckTarget returns ErrExists (wrapped) when the target exists and
// clobber is false, so that callers can refuse before downloading.
func CheckTarget(dest, pkgbase string, clobber bool) error {
	if err := validBase(pkgbase); err != nil {
		return err
	}
	t := Target(dest, pkgbase)
	if _, err := os.Lstat(t); err == nil && !clobber {
		return fmt.Errorf("%s: %w", t, ErrExists)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func validBase(pkgbase string) error {
	if pkgbase == "" || pkgbase == "." || pkgbase == ".." || strings.ContainsAny(pkgbase, "/\\\x00") {
		return fmt.Errorf("invalid package base name %q", pkgbase)
	}
	return nil
}

// Extract reads the gzip'd tar r and creates dest/pkgbase from its
// pkgbase/ directory. Everything is extracted into a temporary directory
// inside dest first and renamed into place only when the whole archive was
// read and checked. It returns the created directory.
func Extract(r io.Reader, dest, pkgbase string, opts Options) (string, error) {
	if err := CheckTarget(dest, pkgbase, opts.Clobber); err != nil {
		return "", err
	}
	lim := opts.Limits
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits.MaxEntries
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dest, ".pacrepo-down-"+pkgbase+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	x := &extractor{root: tmp, base: pkgbase, lim: lim}
	if err := x.run(r); err != nil {
		return "", fmt.Errorf("extract %s: %w", pkgbase, err)
	}
	if err := x.verifySymlinks(); err != nil {
		return "", fmt.Errorf("extract %s: %w", pkgbase, err)
	}
	src := filepath.Join(tmp, pkgbase)
	if fi, err := os.Lstat(src); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("extract %s: the archive has no %s/ directory", pkgbase, pkgbase)
	}
	target := Target(dest, pkgbase)
	if _, err := os.Lstat(target); err == nil {
		if !opts.Clobber {
			return "", fmt.Errorf("%s: %w", target, ErrExists)
		}
		// Move the old tree aside inside tmp (removed by the deferred
		// RemoveAll) so that the new one replaces it in one rename.
		if err := os.Rename(target, filepath.Join(tmp, ".old")); err != nil {
			return "", fmt.Errorf("replace %s: %w", target, err)
		}
	}
	if err := os.Rename(src, target); err != nil {
		return "", fmt.Errorf("move %s into place: %w", target, err)
	}
	return target, nil
}

type extractor struct {
	root     string // the temporary directory
	base     string
	lim      Limits
	written  int64
	entries  int
	symlinks []string // relative paths of created symlinks
}

func (x *extractor) run(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		x.entries++
		if x.entries > x.lim.MaxEntries {
			return &UnsafeError{h.Name, fmt.Sprintf("more than %d members", x.lim.MaxEntries)}
		}
		if err := x.entry(h, tr); err != nil {
			return err
		}
	}
	// gzip checks its CRC at EOF: read to the end so that a corrupt
	// stream is an error, not a silently truncated tree.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	return nil
}

// clean validates an archive path and returns it relative and cleaned. It
// must lie inside the pkgbase/ directory.
func (x *extractor) clean(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", &UnsafeError{name, "empty or NUL in name"}
	}
	if path.IsAbs(name) || strings.HasPrefix(name, "\\") {
		return "", &UnsafeError{name, "absolute path"}
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", &UnsafeError{name, "path contains .."}
		}
	}
	c := path.Clean(name)
	if c != x.base && !strings.HasPrefix(c, x.base+"/") {
		return "", &UnsafeError{name, fmt.Sprintf("outside the %s/ directory", x.base)}
	}
	return c, nil
}

// parentsAreDirs checks that every parent of rel inside root exists as a
// real directory (creating missing ones), so that nothing is ever written
// through a symlink an earlier member created.
func (x *extractor) parentsAreDirs(rel string) error {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	cur := x.root
	for _, part := range strings.Split(dir, "/") {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return &UnsafeError{rel, "a parent directory is a symlink or a file"}
		}
	}
	return nil
}

func (x *extractor) entry(h *tar.Header, tr *tar.Reader) error {
	switch h.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // git archive's commit id
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return &UnsafeError{h.Name, "device or FIFO"}
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		return &UnsafeError{h.Name, fmt.Sprintf("unsupported member type %q", h.Typeflag)}
	}
	rel, err := x.clean(h.Name)
	if err != nil {
		return err
	}
	if err := x.parentsAreDirs(rel); err != nil {
		return err
	}
	full := filepath.Join(x.root, filepath.FromSlash(rel))
	perm := fs.FileMode(h.Mode) & 0o755 // no setuid, setgid, sticky or world-writable bits
	switch h.Typeflag {
	case tar.TypeDir:
		fi, err := os.Lstat(full)
		if err == nil {
			if !fi.IsDir() {
				return &UnsafeError{h.Name, "directory over an existing non-directory"}
			}
			return nil
		}
		return os.Mkdir(full, perm|0o700)
	case tar.TypeReg:
		if h.Size < 0 || h.Size > x.lim.MaxBytes-x.written {
			return &UnsafeError{h.Name, fmt.Sprintf("contents exceed the limit of %d bytes", x.lim.MaxBytes)}
		}
		// O_EXCL with O_NOFOLLOW: never reuse or follow an existing name.
		f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, perm|0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &UnsafeError{h.Name, "duplicate member"}
			}
			return err
		}
		n, err := io.Copy(f, io.LimitReader(tr, h.Size))
		x.written += n
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		if n != h.Size {
			return fmt.Errorf("write %s: archive truncated", rel)
		}
		return nil
	case tar.TypeSymlink:
		if err := x.checkLinkTarget(rel, h.Linkname); err != nil {
			return err
		}
		if err := os.Symlink(h.Linkname, full); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &UnsafeError{h.Name, "duplicate member"}
			}
			return err
		}
		x.symlinks = append(x.symlinks, rel)
		return nil
	default: // hard link
		target, err := x.clean(h.Linkname)
		if err != nil {
			return &UnsafeError{h.Name, "hard link target: " + err.(*UnsafeError).Reason}
		}
		if err := x.parentsAreDirs(target); err != nil {
			return &UnsafeError{h.Name, "hard link target behind a symlink"}
		}
		tfull := filepath.Join(x.root, filepath.FromSlash(target))
		fi, err := os.Lstat(tfull)
		if err != nil || !fi.Mode().IsRegular() {
			return &UnsafeError{h.Name, "hard link to something that is not an extracted regular file"}
		}
		if err := os.Link(tfull, full); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &UnsafeError{h.Name, "duplicate member"}
			}
			return err
		}
		return nil
	}
}

// checkLinkTarget refuses absolute targets and targets that, resolved
// through the tree as it is now, leave the pkgbase directory.
func (x *extractor) checkLinkTarget(rel, target string) error {
	if target == "" || strings.ContainsRune(target, 0) {
		return &UnsafeError{rel, "empty symlink target"}
	}
	if path.IsAbs(target) {
		return &UnsafeError{rel, fmt.Sprintf("symlink to absolute path %q", target)}
	}
	if _, ok := x.resolve(path.Dir(rel) + "/" + target); !ok { // not path.Join: it cleans ".." lexically, past symlinks
		return &UnsafeError{rel, fmt.Sprintf("symlink %q points outside %s/", target, x.base)}
	}
	return nil
}

// verifySymlinks resolves every symlink again once the whole tree exists:
// a link that looked safe may escape through links created after it
// ("a -> b/../..", then "b -> .."). Chains and loops are followed with a
// bound.
func (x *extractor) verifySymlinks() error {
	for _, l := range x.symlinks {
		target, err := os.Readlink(filepath.Join(x.root, filepath.FromSlash(l)))
		if err != nil {
			return err
		}
		if _, ok := x.resolve(path.Dir(l) + "/" + target); !ok {
			return &UnsafeError{l, fmt.Sprintf("symlink %q points outside %s/ (through other symlinks)", target, x.base)}
		}
	}
	return nil
}

// maxHops bounds symlink resolution, like the kernel's ELOOP limit.
const maxHops = 40

// resolve walks p (relative to root, possibly with "..") component by
// component, following symlinks in the tree, and reports whether the
// result stays inside root/base. Components that do not exist are taken
// literally.
func (x *extractor) resolve(p string) (string, bool) {
	var stack []string // resolved components so far
	pending := strings.Split(p, "/")
	hops := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return "", false
			}
			stack = stack[:len(stack)-1]
			continue
		}
		stack = append(stack, part)
		full := filepath.Join(x.root, filepath.FromSlash(strings.Join(stack, "/")))
		fi, err := os.Lstat(full)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		hops++
		if hops > maxHops {
			return "", false
		}
		t, err := os.Readlink(full)
		if err != nil || path.IsAbs(t) {
			return "", false
		}
		stack = stack[:len(stack)-1]
		pending = append(strings.Split(t, "/"), pending...)
	}
	res := strings.Join(stack, "/")
	if res != x.base && !strings.HasPrefix(res, x.base+"/") {
		return res, false
	}
	return res, true
}

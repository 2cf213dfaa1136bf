package repodb

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
)

// Fixed metadata of every archive member, so that the same entries always
// give the same bytes.
var memberTime = time.Unix(0, 0)

const (
	dirMode  = 0o755
	fileMode = 0o644
)

// testHookWriter, when set by tests, wraps the temporary file's writer to
// inject write failures.
var testHookWriter func(io.Writer) io.Writer

// writeDatabases implements Write.
//
// Order: both new archives are written and synced to temporary files
// first, so that a failure (disk full, bad entry) changes nothing. Then the
// files database is renamed into place, then the db. The db is what
// pacman -S reads and what the repository's state is judged by, so it is
// the commit point: whoever sees a new db also finds a files database at
// least as new, and a crash between the two renames leaves the old db,
// which the next write replaces together with the files database.
func writeDatabases(loc Location, entries []Entry, opts WriteOptions) error {
	if err := loc.validate(); err != nil {
		return fmt.Errorf("write database: %w", err)
	}
	format, err := compress.FormatForName(loc.DBFile())
	if err != nil {
		return fmt.Errorf("write database %s: %w", loc.DBPath(), err)
	}
	sorted, err := sortEntries(entries)
	if err != nil {
		return fmt.Errorf("write database %s: %w", loc.DBPath(), err)
	}
	if format == compress.Zstd {
		dbTmp, filesTmp, ix, err := writeChunked(loc, sorted, opts)
		if err != nil {
			return fmt.Errorf("write database %s: %w", loc.DBPath(), err)
		}
		return installDatabases(loc, dbTmp, filesTmp, ix, opts)
	}
	filesTmp, err := writeTemp(loc.Dir, loc.FilesFile(), format, sorted, true, opts)
	if err != nil {
		return fmt.Errorf("write database %s: %w", loc.FilesPath(), err)
	}
	dbTmp, err := writeTemp(loc.Dir, loc.DBFile(), format, sorted, false, opts)
	if err != nil {
		fsutil.RemoveIfExists(filesTmp)
		return fmt.Errorf("write database %s: %w", loc.DBPath(), err)
	}
	ix := &Index{PGPSig: opts.PGPSig, Format: format, Flat: make([]Key, len(sorted))}
	for i, e := range sorted {
		ix.Flat[i] = keyOf(e, opts.PGPSig)
	}
	return installDatabases(loc, dbTmp, filesTmp, ix, opts)
}

// writeChanges implements WriteChanges.
func writeChanges(loc Location, ix *Index, upserts []Entry, removed []string, opts WriteOptions) error {
	if err := loc.validate(); err != nil {
		return fmt.Errorf("write database: %w", err)
	}
	dbTmp, filesTmp, nix, err := writeChangedChunks(loc, ix, upserts, removed, opts)
	if err != nil {
		return fmt.Errorf("write database %s: %w", loc.DBPath(), err)
	}
	return installDatabases(loc, dbTmp, filesTmp, nix, opts)
}

// installDatabases signs the complete temporaries and puts them in place,
// then records the index of what is now on disk.
func installDatabases(loc Location, dbTmp, filesTmp string, ix *Index, opts WriteOptions) error {
	defer fsutil.RemoveIfExists(filesTmp)
	defer fsutil.RemoveIfExists(dbTmp)

	// Signatures are made of the complete temporaries, before anything is
	// replaced: a signing failure changes nothing.
	var filesSig, dbSig string
	var err error
	if opts.Sign != nil {
		if filesSig, err = signTemp(loc.Dir, loc.FilesFile(), filesTmp, opts.Sign); err != nil {
			return fmt.Errorf("sign database %s: %w", loc.FilesPath(), err)
		}
		defer fsutil.RemoveIfExists(filesSig)
		if dbSig, err = signTemp(loc.Dir, loc.DBFile(), dbTmp, opts.Sign); err != nil {
			return fmt.Errorf("sign database %s: %w", loc.DBPath(), err)
		}
		defer fsutil.RemoveIfExists(dbSig)
	}

	steps := []struct{ tmp, sig, final string }{
		{filesTmp, filesSig, loc.FilesPath()},
		{dbTmp, dbSig, loc.DBPath()},
	}
	if opts.Keep != nil {
		for _, step := range steps {
			if err := opts.Keep(step.tmp, step.sig, filepath.Base(step.final)); err != nil {
				return err
			}
		}
	}
	for _, step := range steps {
		if err := install(step.tmp, step.sig, step.final); err != nil {
			return fmt.Errorf("write database %s: %w", step.final, err)
		}
		if err := fsutil.SyncDir(loc.Dir); err != nil {
			return fmt.Errorf("write database %s: %w", step.final, err)
		}
	}
	for _, step := range []struct{ final, link string }{
		{loc.FilesPath(), loc.FilesLink()},
		{loc.DBPath(), loc.DBLink()},
	} {
		if err := fsutil.ReplaceSymlink(step.link, filepath.Base(step.final)); err != nil {
			return fmt.Errorf("write database link %s: %w", step.link, err)
		}
		if opts.Sign != nil {
			if err := fsutil.ReplaceSymlink(step.link+".sig", filepath.Base(step.final)+".sig"); err != nil {
				return fmt.Errorf("write database link %s.sig: %w", step.link, err)
			}
			continue
		}
		// Unsigned: a link to the signature of a previous database is stale.
		if err := fsutil.RemoveIfExists(step.link + ".sig"); err != nil {
			return fmt.Errorf("write database link %s.sig: %w", step.link, err)
		}
	}
	if err := fsutil.SyncDir(loc.Dir); err != nil {
		return fmt.Errorf("write database %s: %w", loc.DBPath(), err)
	}
	// The databases are committed: the index only saves work later, and
	// one that cannot be written must not turn the commit into a failure.
	// A stale one names other files and is ignored.
	if err := writeIndex(loc, ix); err != nil {
		RemoveIndex(loc)
	}
	// Mirrors poll lastupdate (seconds since the epoch) to see a change;
	// it follows the databases, as they follow the packages. Like the
	// index, it cannot undo the commit.
	fsutil.WriteFile(filepath.Join(loc.Dir, layout.LastUpdateFile), fmt.Appendf(nil, "%d\n", time.Now().Unix()), fileMode)
	return nil
}

// dirName is the directory of an entry inside the archive.
func dirName(e *Entry) string { return e.Name + "-" + e.Version }

// CheckIdentity tells whether a package name and version can make a
// database entry that pacman reads back as the same package. pacman finds
// name and version in the entry's directory NAME-VERSION by cutting at the
// last two hyphens (libalpm's _alpm_splitname), and refuses the whole
// database when it cannot: so VERSION must be [EPOCH:]PKGVER-PKGREL with
// exactly one hyphen, as makepkg makes it (EPOCH digits, PKGVER and PKGREL
// not empty), the name must be non-empty and every value one line.
//
// Both must be UTF-8: the directory is an archive path, which libarchive
// converts from UTF-8, and one it cannot convert ("Pathname can't be
// converted from UTF-8") makes pacman refuse the whole database. The other
// fields (%DESC%, %DEPENDS%, %FILENAME%, the file lists...) are file
// contents, which pacman reads as bytes: invalid UTF-8 there does not stop
// it reading the database (checked with pacman 6).
func CheckIdentity(name, version string) error {
	switch {
	case name == "" || version == "":
		return fmt.Errorf("package %q version %q: name and version are required", name, version)
	case !utf8.ValidString(name):
		return fmt.Errorf("package name %q is not UTF-8: pacman cannot read a database holding it", name)
	case strings.ContainsAny(name, "/\n\x00") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-"):
		return fmt.Errorf("package name %q cannot be a database entry", name)
	}
	if err := checkVersion(version); err != nil {
		return fmt.Errorf("package %s: version %q cannot be a database entry: %w", name, version, err)
	}
	return nil
}

func checkVersion(v string) error {
	if !utf8.ValidString(v) {
		return errors.New("it is not UTF-8: pacman cannot read a database holding it")
	}
	if strings.ContainsAny(v, "/\n\x00") {
		return errors.New("it contains '/', a newline or NUL")
	}
	if epoch, rest, ok := strings.Cut(v, ":"); ok {
		if epoch == "" || strings.Trim(epoch, "0123456789") != "" {
			return errors.New("the epoch before ':' must be a number")
		}
		v = rest
	}
	pkgver, pkgrel, ok := strings.Cut(v, "-")
	switch {
	case !ok:
		return errors.New("no -pkgrel: pacman cannot tell name and version apart")
	case pkgver == "" || pkgrel == "":
		return errors.New("empty pkgver or pkgrel")
	case strings.Contains(pkgrel, "-"):
		return errors.New("more than one '-': pacman would read another name and version")
	case strings.Contains(pkgver, ":"):
		return errors.New("more than one ':'")
	}
	return nil
}

// sortEntries checks entries and sorts them by directory name (byte order;
// repo-add's glob order depends on the locale, pacman accepts any).
func sortEntries(entries []Entry) ([]*Entry, error) {
	sorted := make([]*Entry, len(entries))
	seen := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		if err := CheckIdentity(e.Name, e.Version); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("package %s: two entries", e.Name)
		}
		seen[e.Name] = true
		sorted[i] = e
	}
	slices.SortFunc(sorted, func(a, b *Entry) int { return strings.Compare(dirName(a), dirName(b)) })
	return sorted, nil
}

// writeTemp streams the archive of entries into a new temporary file next
// to base, syncs it and returns its path. On error nothing is left behind.
func writeTemp(dir, base string, format compress.Format, entries []*Entry, withFiles bool, opts WriteOptions) (path string, err error) {
	f, err := fsutil.CreateTemp(dir, base, fileMode)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	var w io.Writer = f
	if testHookWriter != nil {
		w = testHookWriter(w)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	cw, err := compress.NewWriter(bw, format)
	if err != nil {
		return "", err
	}
	if err := writeTar(cw, entries, withFiles, opts); err != nil {
		cw.Close()
		return "", err
	}
	if err := cw.Close(); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// writeTar writes the layout of repo-add's `bsdtar -cf - *`: for each
// entry its directory, its desc and, in the files database, its files.
func writeTar(w io.Writer, entries []*Entry, withFiles bool, opts WriteOptions) error {
	tw := tar.NewWriter(w)
	if err := renderMembers(tw, entries, withFiles, opts); err != nil {
		return err
	}
	// Close writes the end-of-archive marker; with no entries the archive
	// is just that, like repo-add's `bsdtar -cf - -T /dev/null`.
	return tw.Close()
}

func header(name string, typ byte, mode, size int64) *tar.Header {
	return &tar.Header{
		Name:     name,
		Typeflag: typ,
		Mode:     mode,
		Size:     size,
		ModTime:  memberTime,
		Uname:    "root",
		Gname:    "root",
	}
}

// install renames tmp to final, first keeping the current final as
// final.old like repo-add's rotate_db. The .old copy is made with a hard
// link (or a copy) before the rename, so final exists at every instant.
// A signature of the previous database no longer matches: it moves to
// final.old.sig.
func install(tmp, sig, final string) error {
	old := final + ".old"
	hadFinal := false
	if fi, err := os.Lstat(final); err == nil && fi.Mode().IsRegular() {
		hadFinal = true
		if err := keepOld(final, old); err != nil {
			return err
		}
	}
	if sig != "" {
		// The previous signature stays in place until the new one replaces
		// it, so that NAME.db.tar.EXT.sig is never missing; the .old
		// database keeps a copy of it.
		if hadFinal {
			if _, err := os.Lstat(final + ".sig"); err == nil {
				if err := keepOld(final+".sig", old+".sig"); err != nil {
					return err
				}
			}
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		return os.Rename(sig, final+".sig")
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if !hadFinal {
		return nil
	}
	err := os.Rename(final+".sig", old+".sig")
	if errors.Is(err, fs.ErrNotExist) {
		err = fsutil.RemoveIfExists(old + ".sig")
	}
	return err
}

// signTemp signs the complete temporary database tmp and writes the
// signature to a temporary file for final's .sig, whose path it returns.
func signTemp(dir, final, tmp string, sign func(path string) ([]byte, error)) (string, error) {
	sig, err := sign(tmp)
	if err != nil {
		return "", err
	}
	return fsutil.WriteTemp(dir, final+".sig", sig, fileMode)
}

// keepOld makes old a copy of final: a hard link when the file system
// allows it, otherwise a byte copy, each through a temporary name.
func keepOld(final, old string) error {
	tmp := fsutil.TempPath(filepath.Dir(old), old)
	if err := os.Link(final, tmp); err != nil {
		if _, _, err := fsutil.CopyFile(final, tmp, fileMode); err != nil {
			return fmt.Errorf("keep %s: %w", old, err)
		}
	}
	if err := os.Rename(tmp, old); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keep %s: %w", old, err)
	}
	return nil
}

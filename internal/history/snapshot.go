package history

// A snapshot is a name given to one generation, immutable until it is
// deleted: its record is created only if absent and never rewritten. It
// names the generation's databases itself, so that it outlives the
// pruning of the generation's record, and it pins its files: retention
// and gc spare the generations PinnedGenerations returns and the files
// they reference. A directory keeps the records beside the commits,
//
//	.NAME.pacrepo.history/snapshots/S.json
//	.NAME.pacrepo.history/pinned/SHA-FILE   hard links of the snapshots' package files
//
// (a bucket under .pacrepo/NAME/snapshots/, its objects spared by gc).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// SnapshotVersion is the version of the snapshot records this pacrepo
// writes.
const SnapshotVersion = 1

// Snapshot is a named, immutable generation.
type Snapshot struct {
	Version    int       `json:"version"`
	Name       string    `json:"name"`
	Generation int64     `json:"generation"`
	Time       time.Time `json:"time"`
	Host       string    `json:"host,omitempty"`
	User       string    `json:"user,omitempty"`
	Command    string    `json:"command,omitempty"`
	// Databases are the generation's, as its record names them.
	Databases []Database `json:"databases"`
}

// DB is the snapshot's package database; false when it names none.
func (s *Snapshot) DB() (Database, bool) {
	return (&Record{Databases: s.Databases}).DB()
}

// Snapshots are a store's snapshot records.
type Snapshots interface {
	// SnapshotNames are the names of the snapshots, sorted.
	SnapshotNames(ctx context.Context) ([]string, error)
	// Snapshot reads snapshot name: *SnapshotNotFoundError when there is
	// none.
	Snapshot(ctx context.Context, name string) (*Snapshot, error)
}

// maxSnapshotName bounds a snapshot's name, in bytes.
const maxSnapshotName = 64

// SnapshotNameError says a name cannot be a snapshot's.
type SnapshotNameError struct {
	Name, Why string
}

func (e *SnapshotNameError) Error() string {
	return fmt.Sprintf("%q cannot name a snapshot: %s", e.Name, e.Why)
}

// CheckSnapshotName refuses a name that is not a snapshot's: empty,
// longer than 64 bytes, with a slash, a leading dot, or a character that
// is not printable (a space included), or not UTF-8. It names a file and
// a URL path element alike.
func CheckSnapshotName(name string) error {
	why := ""
	switch {
	case name == "":
		why = "it is empty"
	case len(name) > maxSnapshotName:
		why = fmt.Sprintf("it is longer than %d bytes", maxSnapshotName)
	case !utf8.ValidString(name):
		why = "it is not UTF-8"
	case strings.ContainsAny(name, `/\`):
		why = "it has a slash"
	case name[0] == '.':
		why = "it starts with a dot"
	case strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }):
		why = "it has a character that is not printable"
	}
	if why != "" {
		return &SnapshotNameError{Name: name, Why: why}
	}
	return nil
}

// SnapshotNotFoundError says a repository has no snapshot of that name.
type SnapshotNotFoundError struct{ Name string }

func (e *SnapshotNotFoundError) Error() string {
	return fmt.Sprintf("no snapshot %q (pacrepo snapshot list lists them)", e.Name)
}

// SnapshotExistsError says a snapshot of that name exists: a snapshot is
// immutable, never replaced.
type SnapshotExistsError struct{ Name string }

func (e *SnapshotExistsError) Error() string {
	return fmt.Sprintf("snapshot %q exists (a snapshot is never replaced: delete it first)", e.Name)
}

// NewSnapshot is the snapshot name of generation rec, made by command.
func NewSnapshot(name string, rec *Record, command string) (*Snapshot, error) {
	if err := CheckSnapshotName(name); err != nil {
		return nil, err
	}
	if _, ok := rec.DB(); !ok {
		return nil, fmt.Errorf("generation %d names no database", rec.Generation)
	}
	who := Who(command)
	return &Snapshot{Version: SnapshotVersion, Name: name, Generation: rec.Generation, Time: time.Now().UTC(),
		Host: who.Host, User: who.User, Command: command, Databases: rec.Databases}, nil
}

// EncodeSnapshot is the JSON of a snapshot record.
func EncodeSnapshot(s *Snapshot) []byte {
	return encodeJSON(s)
}

// DecodeSnapshot reads the record of snapshot name (from where, for
// errors).
func DecodeSnapshot(b []byte, name, where string) (*Snapshot, error) {
	s, err := decodeJSON[Snapshot](b, where, "a snapshot record")
	if err != nil {
		return nil, err
	}
	if s.Version != SnapshotVersion || s.Name != name {
		return nil, fmt.Errorf("read %s: not the record of snapshot %q", where, name)
	}
	return s, nil
}

// PinnedGenerations are the generations snapshots name, sorted, each
// once: retention keeps them and what they reference.
func PinnedGenerations(ctx context.Context, st Snapshots) ([]int64, error) {
	names, err := st.SnapshotNames(ctx)
	if err != nil {
		return nil, err
	}
	var gens []int64
	for _, n := range names {
		s, err := st.Snapshot(ctx, n)
		var nf *SnapshotNotFoundError
		if errors.As(err, &nf) {
			continue // deleted since listed: pins nothing
		}
		if err != nil {
			return nil, err
		}
		gens = append(gens, s.Generation)
	}
	slices.Sort(gens)
	return slices.Compact(gens), nil
}

const (
	snapshotsDir = "snapshots"
	pinnedDir    = "pinned"
)

// SnapshotPath is the path of snapshot name's record.
func (d Dir) SnapshotPath(name string) string {
	return filepath.Join(d.Root, snapshotsDir, name+".json")
}

// PinnedPath is where the directory keeps a snapshot's copy of package
// file p (a hard link), named by its content.
func (d Dir) PinnedPath(p Package) string {
	sum := p.SHA256
	if len(sum) > 32 {
		sum = sum[:32]
	}
	return filepath.Join(d.Root, pinnedDir, sum+"-"+p.File)
}

// SnapshotNames lists the snapshots, sorted.
func (d Dir) SnapshotNames(context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(d.Root, snapshotsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshots of %s: %w", d.Root, err)
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && CheckSnapshotName(n) == nil && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	return names, nil
}

// Snapshot reads snapshot name's record.
func (d Dir) Snapshot(_ context.Context, name string) (*Snapshot, error) {
	if err := CheckSnapshotName(name); err != nil {
		return nil, err
	}
	path := d.SnapshotPath(name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &SnapshotNotFoundError{Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return DecodeSnapshot(b, name, path)
}

// Pin makes the directory keep a copy of package file p, found at path
// (a hard link, a copy where linking fails), for snapshots: the copy is
// verified against p's SHA-256, since the file at path may change under
// another writer. The caller syncs (SyncPinned) before writing the record.
func (d Dir) Pin(path string, p Package) error {
	dest := d.PinnedPath(p)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("pin %s: %w", p.File, err)
	}
	if err := linkOrCopy(path, dest); err != nil {
		return fmt.Errorf("pin %s: %w", path, err)
	}
	sum, _, err := fsutil.HashFile(dest)
	if err != nil {
		return fmt.Errorf("pin %s: %w", path, err)
	}
	if sum != p.SHA256 {
		// Another content than the database's: not the file pinned.
		fsutil.RemoveIfExists(dest)
		return fmt.Errorf("pin %s: its SHA-256 is not the database's", path)
	}
	if _, err := os.Lstat(path + ".sig"); err == nil {
		if err := linkOrCopy(path+".sig", dest+".sig"); err != nil {
			return fmt.Errorf("pin %s.sig: %w", path, err)
		}
	}
	return nil
}

// SyncPinned makes the files pinned durable.
func (d Dir) SyncPinned() error { return fsutil.SyncDir(filepath.Join(d.Root, pinnedDir)) }

// WriteSnapshot creates s's record, durably, only if absent
// (*SnapshotExistsError when it exists).
func (d Dir) WriteSnapshot(s *Snapshot) error {
	if err := CheckSnapshotName(s.Name); err != nil {
		return err
	}
	dir := filepath.Join(d.Root, snapshotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write snapshot %s: %w", s.Name, err)
	}
	path := d.SnapshotPath(s.Name)
	tmp, err := fsutil.WriteTemp(dir, s.Name+".json", EncodeSnapshot(s), 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer fsutil.RemoveIfExists(tmp)
	if err := fsutil.RenameNoReplace(tmp, path); errors.Is(err, fs.ErrExist) {
		return &SnapshotExistsError{Name: s.Name}
	} else if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return fsutil.SyncDir(dir)
}

// DeleteSnapshot removes snapshot name's record, then the pinned files
// no other snapshot references (pinned lists the files of each snapshot:
// the caller reads them from the snapshots' databases). A crash in
// between leaves pinned files that the next delete removes.
func (d Dir) DeleteSnapshot(name string, pinned func(*Snapshot) ([]Package, error)) error {
	if err := CheckSnapshotName(name); err != nil {
		return err
	}
	path := d.SnapshotPath(name)
	if err := os.Remove(path); errors.Is(err, fs.ErrNotExist) {
		return &SnapshotNotFoundError{Name: name}
	} else if err != nil {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
		return err
	}
	ctx := context.Background()
	names, err := d.SnapshotNames(ctx)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, n := range names {
		s, err := d.Snapshot(ctx, n)
		if err != nil {
			return fmt.Errorf("snapshot %s deleted, its files left: %w", name, err)
		}
		pkgs, err := pinned(s)
		if err != nil {
			return fmt.Errorf("snapshot %s deleted, its files left: %w", name, err)
		}
		for _, p := range pkgs {
			keep[filepath.Base(d.PinnedPath(p))] = true
		}
	}
	dir := filepath.Join(d.Root, pinnedDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot %s deleted, its files left: read %s: %w", name, dir, err)
	}
	for _, e := range ents {
		if !keep[strings.TrimSuffix(e.Name(), ".sig")] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("snapshot %s deleted, its files left: %w", name, err)
			}
		}
	}
	return nil
}

// SnapshotPackages are the entries of s's package database, read from
// st.
func SnapshotPackages(ctx context.Context, st Store, s *Snapshot) ([]Package, error) {
	return st.Packages(ctx, &Record{Version: RecordVersion, Generation: s.Generation, Databases: s.Databases})
}

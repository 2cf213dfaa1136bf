package history

// A repository directory's history lies beside it, hidden, leaving
// repo-add's layout untouched:
//
//	.NAME.pacrepo.history/commits/GENERATION.json   one record per generation
//	.NAME.pacrepo.history/gen/SHA-NAME.db.tar.EXT   its databases (files database,
//	                                                 .sig too), named by content
//
// A generation's databases are hard links of the databases it committed
// (a copy where the file system cannot link): no byte is copied, and a
// database that comes back to an earlier content shares that generation's
// file. The directory writes them under its lock, as part of the change's
// transaction (repo's journal names the generation).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

// Dir is the history of one repository directory.
type Dir struct {
	// Root is the history directory, .NAME.pacrepo.history.
	Root string
}

// DirOf is the history of the repository NAME in repoDir.
func DirOf(repoDir, name string) Dir {
	return Dir{Root: filepath.Join(repoDir, layout.Names{Repo: name}.HistoryDir())}
}

const (
	commitsDir = "commits"
	genDir     = "gen"
)

// RecordName is the file name of generation g's record (zero-padded, so
// that names sort as numbers; a bucket names its commit records alike).
func RecordName(g int64) string { return fmt.Sprintf("%016d.json", g) }

// parseRecordName is the generation a record's file name names.
func parseRecordName(name string) (int64, bool) {
	num, ok := strings.CutSuffix(name, ".json")
	if !ok || len(num) != 16 {
		return 0, false
	}
	g, err := strconv.ParseInt(num, 10, 64)
	return g, err == nil && g >= 0
}

// RecordPath is the path of generation g's record.
func (d Dir) RecordPath(g int64) string { return filepath.Join(d.Root, commitsDir, RecordName(g)) }

// Path is the path of a generation's database.
func (d Dir) Path(db Database) string { return filepath.Join(d.Root, filepath.FromSlash(db.Path)) }

// Generations lists the generations with a record, oldest first (none
// when the repository has no history yet).
func (d Dir) Generations(context.Context) ([]int64, error) {
	f, err := os.Open(filepath.Join(d.Root, commitsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history %s: %w", d.Root, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read history %s: %w", d.Root, err)
	}
	var gens []int64
	for _, n := range names {
		if g, ok := parseRecordName(n); ok {
			gens = append(gens, g)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// Latest is the newest generation; -1 when there is none.
func (d Dir) Latest(ctx context.Context) (int64, error) {
	gens, err := d.Generations(ctx)
	if err != nil || len(gens) == 0 {
		return -1, err
	}
	return gens[len(gens)-1], nil
}

// maxRecordSize bounds what is read as a record.
const maxRecordSize = 16 << 20

// Record reads generation g's record.
func (d Dir) Record(_ context.Context, g int64) (*Record, error) {
	path := d.RecordPath(g)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Generation: g}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Decode(b, g, path)
}

// Decode reads a record of generation g (from where, for errors).
func Decode(b []byte, g int64, where string) (*Record, error) {
	r, err := decodeJSON[Record](b, where, "a generation record")
	if err != nil {
		return nil, err
	}
	if r.Version != RecordVersion || r.Generation != g {
		return nil, fmt.Errorf("read %s: not the record of generation %d", where, g)
	}
	return r, nil
}

// Encode is the JSON of a record.
func Encode(r *Record) []byte { return encodeJSON(r) }

// decodeJSON reads a record of the history (what names its kind, for
// errors), no larger than any record can be.
func decodeJSON[T any](b []byte, where, what string) (*T, error) {
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("read %s: larger than %s can be", where, what)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read %s: not %s: %w", where, what, err)
	}
	return &v, nil
}

// encodeJSON is the indented JSON of a record of the history, one line
// feed at its end.
func encodeJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return append(b, '\n')
}

// Write creates generation r.Generation's record, durably, never over an
// existing one: a generation number is never reused. ErrExist when it
// exists.
func (d Dir) Write(r *Record) error {
	dir := filepath.Join(d.Root, commitsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write history %s: %w", d.Root, err)
	}
	path := d.RecordPath(r.Generation)
	tmp, err := fsutil.WriteTemp(dir, RecordName(r.Generation), Encode(r), 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer fsutil.RemoveIfExists(tmp)
	if err := fsutil.RenameNoReplace(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return fsutil.SyncDir(dir)
}

// Keep keeps the database file at path, whose name in the repository is
// name (NAME.db.tar.EXT), as a generation's database: a hard link (a copy
// where linking fails) named by its content, its signature (sigPath, ""
// when unsigned) beside it. A database of a content kept already is that
// file, its signature with it. The caller syncs (Sync) before it commits
// a record naming it.
func (d Dir) Keep(path, sigPath, name string) (Database, error) {
	sum, _, err := fsutil.HashFile(path)
	if err != nil {
		return Database{}, fmt.Errorf("keep %s in the history: %w", name, err)
	}
	db := Database{Name: name, Path: genDir + "/" + sum[:32] + "-" + name, SHA256: sum}
	dest := d.Path(db)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return Database{}, fmt.Errorf("keep %s in the history: %w", name, err)
	}
	if sigPath != "" {
		if err := linkOrCopy(sigPath, dest+".sig"); err != nil {
			return Database{}, fmt.Errorf("keep %s.sig in the history: %w", name, err)
		}
		db.Signed = true
		if db.SigSHA256, _, err = fsutil.HashFile(dest + ".sig"); err != nil {
			return Database{}, fmt.Errorf("keep %s.sig in the history: %w", name, err)
		}
	}
	if err := linkOrCopy(path, dest); err != nil {
		return Database{}, fmt.Errorf("keep %s in the history: %w", name, err)
	}
	return db, nil
}

// Sync makes the databases kept durable.
func (d Dir) Sync() error { return fsutil.SyncDir(filepath.Join(d.Root, genDir)) }

// linkOrCopy makes dest hold what src holds, through a temporary name: a
// hard link, or a copy. An existing dest is left: named by content, it
// holds the same (a signature kept earlier vouches for the same bytes).
func linkOrCopy(src, dest string) error {
	if _, err := os.Lstat(dest); err == nil {
		return nil
	}
	tmp := fsutil.TempPath(filepath.Dir(dest), filepath.Base(dest))
	if err := os.Link(src, tmp); err != nil {
		if _, _, err := fsutil.CopyFile(src, tmp, 0o644); err != nil {
			return err
		}
	}
	defer fsutil.RemoveIfExists(tmp)
	err := fsutil.RenameNoReplace(tmp, dest)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// Packages are the entries of r's package database.
func (d Dir) Packages(_ context.Context, r *Record) ([]Package, error) {
	db, ok := r.DB()
	if !ok {
		return nil, fmt.Errorf("generation %d names no database", r.Generation)
	}
	return ReadPackages(d.Path(db))
}

// ReadPackages are the entries of the package database at path.
func ReadPackages(path string) ([]Package, error) {
	entries, err := repodb.Read(path, repodb.ReadOptions{})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make([]Package, len(entries))
	for i, e := range entries {
		out[i] = Package{Name: e.Name, Version: e.Version, File: e.Filename, Size: e.CSize, SHA256: e.SHA256Sum}
	}
	return out, nil
}

// filesDatabase tells whether name is NAME.files.tar.EXT.
func filesDatabase(name string) bool {
	_, files, _, ok := layout.SplitDatabase(name)
	return ok && files
}

package repodb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pacrepo/pacrepo/internal/binrec"
	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
)

// Index is the sidecar of the databases pacrepo wrote last
// (.NAME.pacrepo.index): the key fields of every entry and, for a database
// written as a sequence of independent compression frames, where each
// frame of whole entries lies in both files. With it, planning a change
// needs no parsing of the databases, and a change re-encodes only the
// frames around it (WriteChanges).
//
// It is trusted only while both database files are the very files it was
// written for (size, modification and change time, inode), the way the
// verification cache is trusted: anything that rewrites a database (a new
// inode) or touches it makes the index stale, and the databases are read
// again.
type Index struct {
	PGPSig bool            // %PGPSIG% written (WriteOptions.PGPSig)
	Format compress.Format // of both files
	// Chunks in archive order; nil when the databases are not made of
	// frames (their format has none, or another tool wrote them).
	Chunks []Chunk
	// Flat holds the keys when there are no chunks.
	Flat []Key
	// all holds the chunks' keys one after the other in one array, when
	// the index was read (the chunks' Keys are parts of it).
	all []Key

	db, files fsutil.FileID
}

// Chunk is one compression frame of each database holding the same whole
// entries.
type Chunk struct {
	DB, Files span
	Keys      []Key // of its entries, in archive order
	// encoded is Keys as the index read holds them, when this chunk is
	// one read: writing the index copies it rather than encoding a
	// hundred thousand keys of which a change touched a few.
	encoded []byte
}

// Key is what the index keeps of an entry: what planning a change needs.
// It is a fifth of an Entry's size, and a change holds one of each entry
// of the repository.
type Key struct {
	Name, Version, Filename, SHA256Sum string
	CSize                              int64
	PGPSig                             string // as written: "" when the databases hold none
}

// Entry is the entry with only the key fields set.
func (k *Key) Entry() Entry {
	return Entry{Name: k.Name, Version: k.Version, Filename: k.Filename, SHA256Sum: k.SHA256Sum, CSize: k.CSize, PGPSig: k.PGPSig}
}

// KeyOf is the key of e (with its %PGPSIG%, as read or as to be written).
func KeyOf(e *Entry) Key { return keyOf(e, true) }

// keyOf is the key of e written with or without its %PGPSIG%.
func keyOf(e *Entry, withPGPSig bool) Key {
	k := Key{Name: e.Name, Version: e.Version, Filename: e.Filename, SHA256Sum: e.SHA256Sum, CSize: e.CSize}
	if withPGPSig {
		k.PGPSig = e.PGPSig
	}
	return k
}

// sameKey tells whether e has key k.
func sameKey(e *Entry, k *Key) bool {
	return e.Name == k.Name && e.Version == k.Version && e.Filename == k.Filename && e.SHA256Sum == k.SHA256Sum &&
		e.CSize == k.CSize && e.PGPSig == k.PGPSig
}

// span is a byte range of a database file.
type span struct{ Offset, Length int64 }

// Len is the number of entries.
func (ix *Index) Len() int {
	n := len(ix.Flat)
	for _, c := range ix.Chunks {
		n += len(c.Keys)
	}
	return n
}

// Keys are the keys of every entry, in archive order: the index's own
// when it was read or has no chunks, not to be changed.
func (ix *Index) Keys() []Key {
	if ix.Chunks == nil {
		return ix.Flat
	}
	if ix.all != nil {
		return ix.all
	}
	out := make([]Key, 0, ix.Len())
	for _, c := range ix.Chunks {
		out = append(out, c.Keys...)
	}
	return out
}

// Disagreement says how entries (read from the databases) differ from
// what the index says of them; "" when they agree.
func (ix *Index) Disagreement(entries []Entry) string {
	indexed := map[string]*Key{}
	keys := ix.Keys()
	for i := range keys {
		indexed[keys[i].Name] = &keys[i]
	}
	if len(indexed) != len(entries) {
		return fmt.Sprintf("%d entries in the index, %d in the database", len(indexed), len(entries))
	}
	for i := range entries {
		e := &entries[i]
		if k := indexed[e.Name]; k == nil || !sameKey(e, k) {
			return "entry " + e.Name + " differs"
		}
	}
	return ""
}

// Incremental tells whether WriteChanges can update the databases in
// place of a whole rewrite.
func (ix *Index) Incremental() bool { return ix.Chunks != nil }

// ReadIndex returns loc's index when it describes the databases on disk
// now, and nil otherwise (none, stale, or damaged: the databases are then
// read).
func ReadIndex(loc Location) *Index {
	data, err := os.ReadFile(indexPath(loc))
	if err != nil {
		return nil
	}
	ix, err := decodeIndex(data)
	if err != nil {
		return nil
	}
	db, err := fsutil.StatID(loc.DBPath())
	if err != nil || db != ix.db {
		return nil
	}
	files, err := fsutil.StatID(loc.FilesPath())
	if err != nil || files != ix.files {
		return nil
	}
	return ix
}

// RemoveIndex removes loc's index (check --repair, when it disagrees with
// the databases).
func RemoveIndex(loc Location) error { return fsutil.RemoveIfExists(indexPath(loc)) }

func indexPath(loc Location) string {
	return filepath.Join(loc.Dir, layout.Names{Repo: loc.Name}.IndexFile())
}

// writeIndex records ix for the databases now on disk.
func writeIndex(loc Location, ix *Index) error {
	var err error
	if ix.db, err = fsutil.StatID(loc.DBPath()); err != nil {
		return err
	}
	if ix.files, err = fsutil.StatID(loc.FilesPath()); err != nil {
		return err
	}
	// Streamed: the index of 100,000 entries is megabytes that a change
	// need not hold twice.
	return fsutil.WriteFileWith(indexPath(loc), fileMode, func(f *os.File) error {
		w := binrec.NewFileWriter(f, indexMagic)
		putIndex(w, ix)
		return w.Close()
	})
}

const indexMagic = "pacrepo-index-2\n"

// encodeIndex is ix as a binrec record, in memory.
func encodeIndex(ix *Index) []byte {
	var w binrec.Writer
	putIndex(&w, ix)
	return w.Seal(indexMagic)
}

// putIndex writes ix to w.
func putIndex(w *binrec.Writer, ix *Index) {
	putKeys := func(keys []Key) {
		w.Int(int64(len(keys)))
		for i := range keys {
			e := &keys[i]
			w.String(e.Name)
			w.String(e.Version)
			w.String(e.Filename)
			w.String(e.SHA256Sum)
			w.Int(e.CSize)
			w.String(e.PGPSig)
		}
	}
	flags := int64(0)
	if ix.PGPSig {
		flags |= 1
	}
	if ix.Chunks != nil {
		flags |= 2
	}
	w.Int(flags)
	w.Int(int64(ix.Format))
	for _, id := range []fsutil.FileID{ix.db, ix.files} {
		w.Int(id.Size)
		w.Int(id.MTimeNS)
		w.Int(id.CTimeNS)
		w.Int(int64(id.Inode))
		w.Int(int64(id.Dev))
	}
	if ix.Chunks == nil {
		putKeys(ix.Flat)
	} else {
		w.Int(int64(len(ix.Chunks)))
		for _, c := range ix.Chunks {
			w.Int(c.DB.Offset)
			w.Int(c.DB.Length)
			w.Int(c.Files.Offset)
			w.Int(c.Files.Length)
			if c.encoded != nil {
				w.Raw(c.encoded)
			} else {
				putKeys(c.Keys)
			}
		}
	}
}

var errBadIndex = errors.New("damaged index")

// decodeIndex reads what encodeIndex wrote, refusing anything else. The
// keys' strings share data, which is not to be written to again.
func decodeIndex(data []byte) (*Index, error) {
	r, err := binrec.Open(data, indexMagic)
	if err != nil {
		return nil, errBadIndex
	}
	// Every key goes to one array, of which the chunks' keys are parts
	// (Keys then copies nothing); a key takes a hundred bytes or so of
	// data, and memory reserved beyond what is used is never touched.
	all := make([]Key, 0, len(data)/96)
	getKeys := func() {
		n := r.Count(6) // six fields of at least a byte
		all = slices.Grow(all, n)
		for range n {
			all = append(all, Key{Name: r.View(), Version: r.View(), Filename: r.View(), SHA256Sum: r.View(), CSize: r.Int(), PGPSig: r.View()})
		}
	}
	ix := &Index{}
	flags := r.Int()
	if flags&^3 != 0 {
		return nil, errBadIndex // a flag this version does not know
	}
	ix.PGPSig = flags&1 != 0
	ix.Format = compress.Format(r.Int())
	for _, id := range []*fsutil.FileID{&ix.db, &ix.files} {
		*id = fsutil.FileID{Size: r.Int(), MTimeNS: r.Int(), CTimeNS: r.Int(), Inode: uint64(r.Int()), Dev: uint64(r.Int())}
	}
	if flags&2 == 0 {
		getKeys()
		ix.Flat = all
	} else {
		ix.Chunks = make([]Chunk, r.Count(5)) // four spans and a count
		ends := make([]int, len(ix.Chunks))
		for i := range ix.Chunks {
			c := &ix.Chunks[i]
			c.DB = span{r.Int(), r.Int()}
			c.Files = span{r.Int(), r.Int()}
			m := r.Mark()
			getKeys()
			ends[i] = len(all)
			c.encoded = r.Since(m)
		}
		// Parts are cut once all is where it stays.
		start := 0
		for i, end := range ends {
			ix.Chunks[i].Keys = all[start:end:end]
			start = end
		}
		ix.all = all
	}
	if r.Err() != nil {
		return nil, errBadIndex
	}
	if err := ix.check(); err != nil {
		return nil, err
	}
	return ix, nil
}

// check refuses an index whose chunks do not tile both files from the
// start in order, or whose entries are not in archive order.
func (ix *Index) check() error {
	var dbEnd, filesEnd int64
	for _, c := range ix.Chunks {
		if c.DB.Offset != dbEnd || c.Files.Offset != filesEnd || c.DB.Length <= 0 || c.Files.Length <= 0 || len(c.Keys) == 0 {
			return fmt.Errorf("%w: chunks do not tile the databases", errBadIndex)
		}
		dbEnd += c.DB.Length
		filesEnd += c.Files.Length
	}
	var prev *Key
	each := func(keys []Key) bool {
		for i := range keys {
			if prev != nil && compareDirNames(prev.Name, prev.Version, keys[i].Name, keys[i].Version) >= 0 {
				return false
			}
			prev = &keys[i]
		}
		return true
	}
	ok := each(ix.Flat)
	for _, c := range ix.Chunks {
		ok = ok && each(c.Keys)
	}
	if !ok {
		return fmt.Errorf("%w: entries out of order", errBadIndex)
	}
	return nil
}

// compareDirNames compares the entry directory names NAME-VERSION of two
// entries without making them.
func compareDirNames(aName, aVersion, bName, bVersion string) int {
	at := func(name, version string, i int) (byte, bool) {
		switch {
		case i < len(name):
			return name[i], true
		case i == len(name):
			return '-', true
		case i-len(name)-1 < len(version):
			return version[i-len(name)-1], true
		}
		return 0, false
	}
	for i := 0; ; i++ {
		x, okA := at(aName, aVersion, i)
		y, okB := at(bName, bVersion, i)
		switch {
		case !okA && !okB:
			return 0
		case !okA:
			return -1
		case !okB:
			return 1
		case x != y:
			return int(x) - int(y)
		}
	}
}

package repodb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"syscall"

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
	// Flat holds the entries when there are no chunks.
	Flat []Entry

	db, files fileIdentity
}

// Chunk is one compression frame of each database holding the same whole
// entries.
type Chunk struct {
	DB, Files span
	// Entries hold only the key fields: Name, Version, Filename,
	// SHA256Sum, CSize and PGPSig (as written).
	Entries []Entry
}

// span is a byte range of a database file.
type span struct{ Offset, Length int64 }

type fileIdentity struct {
	size, mtime, ctime int64
	ino                uint64
}

func identityOf(path string) (fileIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, err
	}
	id := fileIdentity{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		id.ino = st.Ino
	}
	return id, nil
}

// Entries are the key fields of every entry, in archive order.
func (ix *Index) Entries() []Entry {
	if ix.Chunks == nil {
		return ix.Flat
	}
	n := 0
	for _, c := range ix.Chunks {
		n += len(c.Entries)
	}
	out := make([]Entry, 0, n)
	for _, c := range ix.Chunks {
		out = append(out, c.Entries...)
	}
	return out
}

// Incremental tells whether WriteChanges can update the databases in
// place of a whole rewrite.
func (ix *Index) Incremental() bool { return ix.Chunks != nil }

// keyFields is what the index keeps of an entry written with or without
// its %PGPSIG%.
func keyFields(e *Entry, withPGPSig bool) Entry {
	k := Entry{Name: e.Name, Version: e.Version, Filename: e.Filename, SHA256Sum: e.SHA256Sum, CSize: e.CSize}
	if withPGPSig {
		k.PGPSig = e.PGPSig
	}
	return k
}

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
	db, err := identityOf(loc.DBPath())
	if err != nil || db != ix.db {
		return nil
	}
	files, err := identityOf(loc.FilesPath())
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
	if ix.db, err = identityOf(loc.DBPath()); err != nil {
		return err
	}
	if ix.files, err = identityOf(loc.FilesPath()); err != nil {
		return err
	}
	return fsutil.WriteFile(indexPath(loc), encodeIndex(ix), fileMode)
}

const indexMagic = "pacrepo-index-1\n"

// encodeIndex: the magic, a CRC-32 of the rest, then varints and
// length-prefixed strings.
func encodeIndex(ix *Index) []byte {
	var b []byte
	putInt := func(v int64) { b = binary.AppendVarint(b, v) }
	putStr := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	putEntries := func(es []Entry) {
		putInt(int64(len(es)))
		for i := range es {
			e := &es[i]
			putStr(e.Name)
			putStr(e.Version)
			putStr(e.Filename)
			putStr(e.SHA256Sum)
			putInt(e.CSize)
			putStr(e.PGPSig)
		}
	}
	flags := int64(0)
	if ix.PGPSig {
		flags |= 1
	}
	if ix.Chunks != nil {
		flags |= 2
	}
	putInt(flags)
	putInt(int64(ix.Format))
	for _, id := range []fileIdentity{ix.db, ix.files} {
		putInt(id.size)
		putInt(id.mtime)
		putInt(id.ctime)
		putInt(int64(id.ino))
	}
	if ix.Chunks == nil {
		putEntries(ix.Flat)
	} else {
		putInt(int64(len(ix.Chunks)))
		for _, c := range ix.Chunks {
			putInt(c.DB.Offset)
			putInt(c.DB.Length)
			putInt(c.Files.Offset)
			putInt(c.Files.Length)
			putEntries(c.Entries)
		}
	}
	out := make([]byte, 0, len(indexMagic)+4+len(b))
	out = append(out, indexMagic...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(b))
	return append(out, b...)
}

var errBadIndex = errors.New("damaged index")

// decodeIndex reads what encodeIndex wrote, refusing anything else.
func decodeIndex(data []byte) (*Index, error) {
	rest, ok := bytes.CutPrefix(data, []byte(indexMagic))
	if !ok || len(rest) < 4 {
		return nil, errBadIndex
	}
	sum, b := binary.BigEndian.Uint32(rest), rest[4:]
	if crc32.ChecksumIEEE(b) != sum {
		return nil, errBadIndex
	}
	var err error
	getInt := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			err = errBadIndex
			return 0
		}
		b = b[n:]
		return v
	}
	getCount := func(minSize int) int {
		v := getInt()
		// Every counted item takes at least minSize bytes: a count beyond
		// what is left is damage, not a reason to allocate.
		if v < 0 || v > int64(len(b)/minSize) {
			err = errBadIndex
			return 0
		}
		return int(v)
	}
	getStr := func() string {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > uint64(len(b)-n) {
			err = errBadIndex
			return ""
		}
		s := string(b[n : n+int(v)])
		b = b[n+int(v):]
		return s
	}
	getEntries := func() []Entry {
		es := make([]Entry, getCount(6)) // six fields of at least a byte
		for i := range es {
			if err != nil {
				return nil
			}
			es[i] = Entry{Name: getStr(), Version: getStr(), Filename: getStr(), SHA256Sum: getStr(), CSize: getInt(), PGPSig: getStr()}
		}
		return es
	}
	ix := &Index{}
	flags := getInt()
	ix.PGPSig = flags&1 != 0
	ix.Format = compress.Format(getInt())
	for _, id := range []*fileIdentity{&ix.db, &ix.files} {
		id.size, id.mtime, id.ctime, id.ino = getInt(), getInt(), getInt(), uint64(getInt())
	}
	if flags&2 == 0 {
		ix.Flat = getEntries()
	} else {
		ix.Chunks = make([]Chunk, getCount(5)) // four spans and a count
		for i := range ix.Chunks {
			if err != nil {
				break
			}
			c := &ix.Chunks[i]
			c.DB = span{getInt(), getInt()}
			c.Files = span{getInt(), getInt()}
			c.Entries = getEntries()
		}
	}
	if err != nil || len(b) != 0 {
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
		if c.DB.Offset != dbEnd || c.Files.Offset != filesEnd || c.DB.Length <= 0 || c.Files.Length <= 0 || len(c.Entries) == 0 {
			return fmt.Errorf("%w: chunks do not tile the databases", errBadIndex)
		}
		dbEnd += c.DB.Length
		filesEnd += c.Files.Length
	}
	var prev *Entry
	each := func(es []Entry) bool {
		for i := range es {
			if prev != nil && compareDirNames(prev, &es[i]) >= 0 {
				return false
			}
			prev = &es[i]
		}
		return true
	}
	ok := each(ix.Flat)
	for _, c := range ix.Chunks {
		ok = ok && each(c.Entries)
	}
	if !ok {
		return fmt.Errorf("%w: entries out of order", errBadIndex)
	}
	return nil
}

// compareDirNames compares dirName(a) and dirName(b) without making them.
func compareDirNames(a, b *Entry) int {
	at := func(e *Entry, i int) (byte, bool) {
		switch {
		case i < len(e.Name):
			return e.Name[i], true
		case i == len(e.Name):
			return '-', true
		case i-len(e.Name)-1 < len(e.Version):
			return e.Version[i-len(e.Name)-1], true
		}
		return 0, false
	}
	for i := 0; ; i++ {
		x, okA := at(a, i)
		y, okB := at(b, i)
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

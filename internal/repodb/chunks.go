package repodb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// A zstd database is written as a sequence of independent frames, each
// holding the tar members of whole entries (a chunk), and a last frame
// holding the tar end-of-archive marker. Decompressed one after the other
// they are one tar archive, which is how every zstd reader (libarchive,
// and so pacman, bsdtar and repo-add; zstd(1)) reads concatenated frames.
// A chunk ends after an entry whose name hashes to 0 modulo chunkAverage
// (or at chunkMax entries): the boundaries depend on the names around them
// only, so a change moves no boundary but its own and a write re-encodes
// only the chunks it touches, copying the others byte for byte.
const (
	chunkAverage = 64
	chunkMax     = 512
	// maxChunkSize bounds the decompressed chunk read back for a change.
	maxChunkSize = 256 << 20
)

// endOfArchive is the tar end-of-archive marker, the content of the last
// frame.
var endOfArchive = make([]byte, 1024)

// endsChunk tells whether a chunk that holds n entries ends after the
// entry name.
func endsChunk(name string, n int) bool {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()%chunkAverage == 0 || n >= chunkMax
}

// chunkRanges cuts names (in archive order) into chunks: [start, end)
// ranges.
func chunkRanges(names []string) [][2]int {
	var out [][2]int
	start := 0
	for i, name := range names {
		if endsChunk(name, i+1-start) || i == len(names)-1 {
			out = append(out, [2]int{start, i + 1})
			start = i + 1
		}
	}
	return out
}

// renderMembers writes the tar members of entries to tw: for each entry
// its directory, its desc and, in the files database, its files. It does
// not end the archive.
func renderMembers(tw *tar.Writer, entries []*Entry, withFiles bool, opts WriteOptions) error {
	var d descWriter
	bw := bufio.NewWriterSize(nil, 32<<10) // reused for every file list
	for _, e := range entries {
		dir := dirName(e)
		if err := tw.WriteHeader(header(dir+"/", tar.TypeDir, dirMode, 0)); err != nil {
			return err
		}
		d.buf.Reset()
		renderDesc(&d, e, opts.PGPSig)
		if d.err != nil {
			return fmt.Errorf("entry %s: %w", dir, d.err)
		}
		if err := tw.WriteHeader(header(dir+"/desc", tar.TypeReg, fileMode, int64(d.buf.Len()))); err != nil {
			return err
		}
		if _, err := tw.Write(d.buf.Bytes()); err != nil {
			return err
		}
		if !withFiles {
			continue
		}
		files := sortedFiles(e.FileList())
		size, err := filesSize(files)
		if err != nil {
			return fmt.Errorf("entry %s: %w", dir, err)
		}
		if err := tw.WriteHeader(header(dir+"/files", tar.TypeReg, fileMode, size)); err != nil {
			return err
		}
		if err := writeFilesList(bw, tw, files); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// encodedChunk is one chunk of both databases, compressed.
type encodedChunk struct {
	db, files []byte
	err       error
}

// chunkEncoder renders and compresses chunks. Its buffers are reused: a
// whole write renders thousands of chunks, and EncodeAll given no buffer
// allocates one as large as its input.
type chunkEncoder struct {
	enc     *zstd.Encoder
	raw     bytes.Buffer // the rendered tar
	scratch []byte       // the frame, before it is copied out at its size
}

func newChunkEncoder() (*chunkEncoder, error) {
	enc, err := compress.NewZstdFrameEncoder()
	if err != nil {
		return nil, err
	}
	return &chunkEncoder{enc: enc}, nil
}

func (c *chunkEncoder) close() { c.enc.Close() }

// encode renders and compresses entries for both databases.
func (c *chunkEncoder) encode(entries []*Entry, opts WriteOptions) encodedChunk {
	var out encodedChunk
	for _, withFiles := range []bool{false, true} {
		c.raw.Reset()
		if err := renderMembers(tar.NewWriter(&c.raw), entries, withFiles, opts); err != nil {
			return encodedChunk{err: err}
		}
		c.scratch = c.enc.EncodeAll(c.raw.Bytes(), c.scratch[:0])
		frame := bytes.Clone(c.scratch)
		if withFiles {
			out.files = frame
		} else {
			out.db = frame
		}
	}
	return out
}

// chunkWriter appends frames to both temporary databases and records the
// index of what it wrote. Its encoder serves the callers' chunks too.
type chunkWriter struct {
	enc             *chunkEncoder
	db, files       *os.File
	dbBuf, filesBuf *bufio.Writer
	dbOff, filesOff int64
	index           *Index
}

// newChunkWriter starts writing loc's databases in chunks; the caller
// ends with close, which removes the temporaries unless finish succeeded.
func newChunkWriter(loc Location, opts WriteOptions) (*chunkWriter, error) {
	w := &chunkWriter{index: &Index{PGPSig: opts.PGPSig, Format: compress.Zstd, Chunks: []Chunk{}}}
	var err error
	if w.enc, err = newChunkEncoder(); err != nil {
		return nil, err
	}
	if w.files, err = fsutil.CreateTemp(loc.Dir, loc.FilesFile(), fileMode); err != nil {
		w.close(&err)
		return nil, err
	}
	if w.db, err = fsutil.CreateTemp(loc.Dir, loc.DBFile(), fileMode); err != nil {
		w.close(&err)
		return nil, err
	}
	wrap := func(f *os.File) io.Writer {
		if testHookWriter != nil {
			return testHookWriter(f)
		}
		return f
	}
	w.dbBuf = bufio.NewWriterSize(wrap(w.db), 256<<10)
	w.filesBuf = bufio.NewWriterSize(wrap(w.files), 256<<10)
	return w, nil
}

// add appends one chunk holding entries (their keys are recorded).
func (w *chunkWriter) add(db, files []byte, entries []*Entry) error {
	keys := make([]Key, len(entries))
	for i, e := range entries {
		keys[i] = keyOf(e, w.index.PGPSig)
	}
	if _, err := w.dbBuf.Write(db); err != nil {
		return err
	}
	if _, err := w.filesBuf.Write(files); err != nil {
		return err
	}
	w.record(Chunk{DB: span{Length: int64(len(db))}, Files: span{Length: int64(len(files))}, Keys: keys})
	return nil
}

// copyChunk appends old chunk c as it is, file to file: within one file
// system the kernel copies (or shares) the bytes without them passing
// through this process.
func (w *chunkWriter) copyChunk(old *chunkSource, c int) error {
	ch := old.ix.Chunks[c]
	if err := copySpan(w.dbBuf, w.db, old.db, ch.DB); err != nil {
		return err
	}
	if err := copySpan(w.filesBuf, w.files, old.files, ch.Files); err != nil {
		return err
	}
	// The keys are the old ones and so is their encoding in the index.
	w.record(ch)
	return nil
}

// record appends chunk c, placed after those written before.
func (w *chunkWriter) record(c Chunk) {
	c.DB.Offset, c.Files.Offset = w.dbOff, w.filesOff
	w.dbOff += c.DB.Length
	w.filesOff += c.Files.Length
	w.index.Chunks = append(w.index.Chunks, c)
}

// copySpan appends span sp of src to dst, which bw buffers.
func copySpan(bw *bufio.Writer, dst, src *os.File, sp span) error {
	var n int64
	var err error
	if testHookWriter != nil {
		// Through the writer the test wraps, to fail where it says.
		n, err = io.Copy(bw, io.NewSectionReader(src, sp.Offset, sp.Length))
	} else {
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", dst.Name(), err)
		}
		if _, err := src.Seek(sp.Offset, io.SeekStart); err != nil {
			return fmt.Errorf("read database %s: %w", src.Name(), err)
		}
		// A limited *os.File is what (*os.File).ReadFrom hands to
		// copy_file_range.
		n, err = dst.ReadFrom(io.LimitReader(src, sp.Length))
	}
	if err == nil && n < sp.Length {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("copy a chunk of %s: %w", src.Name(), err)
	}
	return nil
}

// finish writes the end-of-archive frames and syncs both files; it returns
// the temporaries' paths.
func (w *chunkWriter) finish() (dbTmp, filesTmp string, err error) {
	end := w.enc.enc.EncodeAll(endOfArchive, nil)
	for _, s := range []struct {
		bw *bufio.Writer
		f  *os.File
	}{{w.dbBuf, w.db}, {w.filesBuf, w.files}} {
		if _, err := s.bw.Write(end); err != nil {
			return "", "", err
		}
		if err := s.bw.Flush(); err != nil {
			return "", "", err
		}
		if err := s.f.Sync(); err != nil {
			return "", "", err
		}
		if err := s.f.Close(); err != nil {
			return "", "", err
		}
	}
	return w.db.Name(), w.files.Name(), nil
}

// close releases the encoder and, when *errp says the write failed,
// removes the temporaries.
func (w *chunkWriter) close(errp *error) {
	w.enc.close()
	if *errp == nil {
		return
	}
	for _, f := range []*os.File{w.db, w.files} {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
}

// writeChunked writes sorted entries as chunked zstd databases, the chunks
// compressed in parallel.
func writeChunked(loc Location, sorted []*Entry, opts WriteOptions) (dbTmp, filesTmp string, ix *Index, err error) {
	w, err := newChunkWriter(loc, opts)
	if err != nil {
		return "", "", nil, err
	}
	defer w.close(&err)
	names := make([]string, len(sorted))
	for i, e := range sorted {
		names[i] = e.Name
	}
	ranges := chunkRanges(names)
	results := make([]chan encodedChunk, len(ranges))
	for i := range results {
		results[i] = make(chan encodedChunk, 1)
	}
	// Workers take chunks in order; the writer below takes their results
	// in order. A chunk is handed out only when the writer has taken the
	// chunk 2×workers before it, so that at most that many encoded chunks
	// wait in memory however far one slow chunk holds the writer back.
	jobs := make(chan int)
	workers := runtime.GOMAXPROCS(0)
	ahead := make(chan struct{}, 2*workers)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := newChunkEncoder()
			if err != nil {
				for i := range jobs {
					results[i] <- encodedChunk{err: err}
				}
				return
			}
			defer enc.close()
			for i := range jobs {
				r := ranges[i]
				results[i] <- enc.encode(sorted[r[0]:r[1]], opts)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range ranges {
			select {
			case ahead <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case jobs <- i:
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for i, r := range ranges {
		res := <-results[i]
		<-ahead
		if res.err != nil {
			return "", "", nil, res.err
		}
		if err := w.add(res.db, res.files, sorted[r[0]:r[1]]); err != nil {
			return "", "", nil, err
		}
	}
	dbTmp, filesTmp, err = w.finish()
	if err != nil {
		return "", "", nil, err
	}
	return dbTmp, filesTmp, w.index, nil
}

// ErrNotIncremental says WriteChanges cannot update these databases in
// place: they were not written in chunks, or with other options. The
// caller reads them whole and writes them with Write.
var ErrNotIncremental = errors.New("the databases cannot be updated in place")

// item is one entry of the database being written: from an old chunk
// (its key only, until its chunk is read) or given in full.
type item struct {
	key   *Key
	full  *Entry
	chunk int // the old chunk; -1 for a given entry
}

// writeChangedChunks writes the databases ix describes with upserts
// registered (replacing entries of the same name) and removed dropped.
// Chunks nothing touched are copied from the current files byte for byte;
// only the others are read (from the files database, which holds every
// field), rendered and compressed.
func writeChangedChunks(loc Location, ix *Index, upserts []Entry, removed []string, opts WriteOptions) (dbTmp, filesTmp string, nix *Index, err error) {
	if !ix.Incremental() || ix.PGPSig != opts.PGPSig || ix.Format != compress.Zstd {
		return "", "", nil, ErrNotIncremental
	}
	gone := map[string]bool{}
	for _, n := range removed {
		gone[n] = true
	}
	var given []item
	for i := range upserts {
		e := &upserts[i]
		if err := CheckIdentity(e.Name, e.Version); err != nil {
			return "", "", nil, err
		}
		if gone[e.Name] {
			return "", "", nil, fmt.Errorf("package %s: both registered and removed", e.Name)
		}
		gone[e.Name] = true // its old entry, if any, is replaced
		k := keyOf(e, opts.PGPSig)
		given = append(given, item{key: &k, full: e, chunk: -1})
	}
	byDirName := func(a, b item) int {
		return compareDirNames(a.key.Name, a.key.Version, b.key.Name, b.key.Version)
	}
	slices.SortFunc(given, byDirName)
	// The index's entries are in archive order already (decodeIndex
	// checks it): the few given ones are merged in rather than sorting a
	// hundred thousand.
	items := make([]item, 0, ix.Len()+len(given))
	for c := range ix.Chunks {
		for i := range ix.Chunks[c].Keys {
			k := &ix.Chunks[c].Keys[i]
			if gone[k.Name] {
				continue
			}
			for len(given) > 0 && byDirName(given[0], item{key: k}) < 0 {
				items, given = append(items, given[0]), given[1:]
			}
			items = append(items, item{key: k, chunk: c})
		}
	}
	items = append(items, given...)
	for i := 1; i < len(items); i++ {
		if items[i].key.Name == items[i-1].key.Name {
			return "", "", nil, fmt.Errorf("package %s: two entries", items[i].key.Name)
		}
	}

	old, err := openChunkSource(loc, ix)
	if err != nil {
		return "", "", nil, err
	}
	defer old.close()
	w, err := newChunkWriter(loc, opts)
	if err != nil {
		return "", "", nil, err
	}
	defer w.close(&err)
	names := make([]string, len(items))
	for i := range items {
		names[i] = items[i].key.Name
	}
	for _, r := range chunkRanges(names) {
		part := items[r[0]:r[1]]
		if c, same := sameChunk(ix, part); same {
			if err := w.copyChunk(old, c); err != nil {
				return "", "", nil, err
			}
			continue
		}
		full := make([]*Entry, len(part))
		for i, it := range part {
			if it.full != nil {
				full[i] = it.full
				continue
			}
			if full[i], err = old.entry(it.chunk, it.key); err != nil {
				return "", "", nil, err
			}
		}
		ec := w.enc.encode(full, opts)
		if ec.err != nil {
			return "", "", nil, ec.err
		}
		if err := w.add(ec.db, ec.files, full); err != nil {
			return "", "", nil, err
		}
	}
	dbTmp, filesTmp, err = w.finish()
	if err != nil {
		return "", "", nil, err
	}
	return dbTmp, filesTmp, w.index, nil
}

// sameChunk tells whether part is exactly old chunk c: the same entries,
// none given anew.
func sameChunk(ix *Index, part []item) (int, bool) {
	c := part[0].chunk
	if c < 0 || len(part) != len(ix.Chunks[c].Keys) {
		return 0, false
	}
	for _, it := range part {
		if it.chunk != c || it.full != nil {
			return 0, false
		}
	}
	return c, true
}

// chunkSource reads the chunks of the current databases.
type chunkSource struct {
	ix        *Index
	db, files *os.File
	parsed    map[int]map[string]*Entry // chunk -> name -> full entry
}

func openChunkSource(loc Location, ix *Index) (*chunkSource, error) {
	s := &chunkSource{ix: ix, parsed: map[int]map[string]*Entry{}}
	var err error
	if s.db, err = os.Open(loc.DBPath()); err != nil {
		return nil, fmt.Errorf("read database: %w", err)
	}
	if s.files, err = os.Open(loc.FilesPath()); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("read database: %w", err)
	}
	// The index is trusted for the files it was written for, and the
	// repository lock keeps them so; the open files are checked once more.
	for _, f := range []struct {
		f  *os.File
		id fsutil.FileID
	}{{s.db, ix.db}, {s.files, ix.files}} {
		if fi, err := f.f.Stat(); err != nil || fsutil.IDOf(fi) != f.id {
			s.close()
			return nil, ErrNotIncremental
		}
	}
	return s, nil
}

func (s *chunkSource) close() {
	s.db.Close()
	s.files.Close()
}

func readSpan(f *os.File, sp span) ([]byte, error) {
	b := make([]byte, sp.Length)
	if _, err := f.ReadAt(b, sp.Offset); err != nil {
		return nil, fmt.Errorf("read database %s: %w", f.Name(), err)
	}
	return b, nil
}

// entry is the full entry of key in old chunk c, read from the files
// database's frame (which holds the desc and the file list) and checked
// against the index.
func (s *chunkSource) entry(c int, key *Key) (*Entry, error) {
	byName, ok := s.parsed[c]
	if !ok {
		// The files database's frame holds every field of its entries.
		files, err := readSpan(s.files, s.ix.Chunks[c].Files)
		if err != nil {
			return nil, err
		}
		// A chunk that cannot be read here (damaged, or larger than a
		// chunk should be) is left to the whole read, which says what is
		// wrong with the database or reads it with per-member limits.
		raw, err := compress.DecodeZstdFrames(files, maxChunkSize)
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrNotIncremental, c, s.files.Name(), err)
		}
		// A chunk is tar members without the end marker: add it to read
		// the chunk as an archive of its own.
		entries, err := readArchive(bytes.NewReader(append(raw, endOfArchive...)), ReadOptions{Files: true})
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrNotIncremental, c, s.files.Name(), err)
		}
		byName = map[string]*Entry{}
		for i := range entries {
			byName[entries[i].Name] = &entries[i]
		}
		if len(entries) != len(s.ix.Chunks[c].Keys) {
			return nil, fmt.Errorf("%w: chunk %d holds %d entries, the index says %d", ErrNotIncremental, c, len(entries), len(s.ix.Chunks[c].Keys))
		}
		s.parsed[c] = byName
	}
	e := byName[key.Name]
	if e == nil || !sameKey(e, key) {
		return nil, fmt.Errorf("%w: entry %s of chunk %d differs from the index", ErrNotIncremental, key.Name, c)
	}
	return e, nil
}

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
	"github.com/pacrepo/pacrepo/internal/freelist"
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

// encodedChunk is one chunk compressed: a frame for each file written
// (the db and the files database, or the links database alone).
type encodedChunk struct {
	frames [][]byte
	err    error
}

// chunkEncoder renders and compresses chunks. Its buffers are reused: a
// whole write renders thousands of chunks, and EncodeAll given no buffer
// allocates one as large as its input.
type chunkEncoder struct {
	enc     *zstd.Encoder
	raw     bytes.Buffer // the rendered tar
	scratch []byte       // the frame, before it is copied out at its size
}

// chunkEncoders recycles chunk encoders, buffers included, for the life of
// the process: a zstd encoder allocates megabytes of tables, and every
// write uses one per worker (under the race detector, the allocations were
// most of the cost of the tests that write small databases thousands of
// times). EncodeAll keeps no state from one call to the next, so a
// recycled encoder writes the same frames as a new one.
var chunkEncoders = freelist.New[*chunkEncoder](0)

func newChunkEncoder() (*chunkEncoder, error) {
	if c, ok := chunkEncoders.Get(); ok {
		return c, nil
	}
	enc, err := compress.NewZstdFrameEncoder()
	if err != nil {
		return nil, err
	}
	return &chunkEncoder{enc: enc}, nil
}

// maxKeptBuffer bounds the buffers an idle chunk encoder keeps: one huge
// chunk (a package listing a million files) must not stay in memory for
// the rest of a long-running process.
const maxKeptBuffer = 4 << 20

// close gives the encoder back; it must not be used afterwards.
func (c *chunkEncoder) close() {
	c.raw.Reset()
	if c.raw.Cap() > maxKeptBuffer {
		c.raw = bytes.Buffer{}
	}
	if cap(c.scratch) > maxKeptBuffer {
		c.scratch = nil
	}
	chunkEncoders.Put(c)
}

// frame compresses the tar members render writes into one frame of their
// own.
func (c *chunkEncoder) frame(render func(tw *tar.Writer) error) ([]byte, error) {
	c.raw.Reset()
	if err := render(tar.NewWriter(&c.raw)); err != nil {
		return nil, err
	}
	c.scratch = c.enc.EncodeAll(c.raw.Bytes(), c.scratch[:0])
	return bytes.Clone(c.scratch), nil
}

// encode renders and compresses entries for both databases: the db's
// frame, then the files database's.
func (c *chunkEncoder) encode(entries []*Entry, opts WriteOptions) encodedChunk {
	var out encodedChunk
	for _, withFiles := range []bool{false, true} {
		frame, err := c.frame(func(tw *tar.Writer) error { return renderMembers(tw, entries, withFiles, opts) })
		if err != nil {
			return encodedChunk{err: err}
		}
		out.frames = append(out.frames, frame)
	}
	return out
}

// chunkStream is one file written as a sequence of frames (a database, or
// the links database) into a temporary next to it.
type chunkStream struct {
	f   *os.File
	buf *bufio.Writer
	off int64 // where the next frame goes
}

func newChunkStream(dir, final string) (*chunkStream, error) {
	f, err := fsutil.CreateTemp(dir, final, fileMode)
	if err != nil {
		return nil, err
	}
	var w io.Writer = f
	if testHookWriter != nil {
		w = testHookWriter(f)
	}
	return &chunkStream{f: f, buf: bufio.NewWriterSize(w, 256<<10)}, nil
}

// write appends frame and says where it lies.
func (s *chunkStream) write(frame []byte) (span, error) {
	if _, err := s.buf.Write(frame); err != nil {
		return span{}, err
	}
	sp := span{Offset: s.off, Length: int64(len(frame))}
	s.off += sp.Length
	return sp, nil
}

// copyFrom appends span sp of src as it is and says where it lies now.
func (s *chunkStream) copyFrom(src *os.File, sp span) (span, error) {
	if err := copySpan(s.buf, s.f, src, sp); err != nil {
		return span{}, err
	}
	out := span{Offset: s.off, Length: sp.Length}
	s.off += sp.Length
	return out, nil
}

// finish appends end (the end-of-archive frame), syncs and closes the
// temporary and returns its path.
func (s *chunkStream) finish(end []byte) (string, error) {
	if _, err := s.buf.Write(end); err != nil {
		return "", err
	}
	if err := s.buf.Flush(); err != nil {
		return "", err
	}
	if err := s.f.Sync(); err != nil {
		return "", err
	}
	if err := s.f.Close(); err != nil {
		return "", err
	}
	return s.f.Name(), nil
}

// discard removes the temporary (after a failed write; nil: nothing).
func (s *chunkStream) discard() {
	if s != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

// chunkWriter appends frames to both temporary databases and records the
// index of what it wrote. Its encoder serves the callers' chunks too.
type chunkWriter struct {
	enc       *chunkEncoder
	db, files *chunkStream
	index     *Index
}

// newChunkWriter starts writing loc's databases in chunks; the caller
// ends with close, which removes the temporaries unless finish succeeded.
func newChunkWriter(loc Location, opts WriteOptions) (*chunkWriter, error) {
	w := &chunkWriter{index: &Index{PGPSig: opts.PGPSig, Format: compress.Zstd, Chunks: []Chunk{}}}
	var err error
	if w.enc, err = newChunkEncoder(); err != nil {
		return nil, err
	}
	if w.files, err = newChunkStream(loc.Dir, loc.FilesFile()); err != nil {
		w.close(&err)
		return nil, err
	}
	if w.db, err = newChunkStream(loc.Dir, loc.DBFile()); err != nil {
		w.close(&err)
		return nil, err
	}
	return w, nil
}

// add appends one chunk holding entries (their keys are recorded), as
// encode compressed it.
func (w *chunkWriter) add(ec encodedChunk, entries []*Entry) error {
	keys := make([]Key, len(entries))
	for i, e := range entries {
		keys[i] = keyOf(e, w.index.PGPSig)
	}
	c := Chunk{Keys: keys}
	var err error
	if c.DB, err = w.db.write(ec.frames[0]); err != nil {
		return err
	}
	if c.Files, err = w.files.write(ec.frames[1]); err != nil {
		return err
	}
	w.index.Chunks = append(w.index.Chunks, c)
	return nil
}

// copyChunk appends old chunk c as it is, file to file: within one file
// system the kernel copies (or shares) the bytes without them passing
// through this process.
func (w *chunkWriter) copyChunk(old *chunkSource, c int) error {
	// The keys are the old ones and so is their encoding in the index.
	ch := old.ix.Chunks[c]
	var err error
	if ch.DB, err = w.db.copyFrom(old.db, ch.DB); err != nil {
		return err
	}
	if ch.Files, err = w.files.copyFrom(old.files, ch.Files); err != nil {
		return err
	}
	w.index.Chunks = append(w.index.Chunks, ch)
	return nil
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
	if dbTmp, err = w.db.finish(end); err != nil {
		return "", "", err
	}
	if filesTmp, err = w.files.finish(end); err != nil {
		return "", "", err
	}
	return dbTmp, filesTmp, nil
}

// close releases the encoder and, when *errp says the write failed,
// removes the temporaries.
func (w *chunkWriter) close(errp *error) {
	if w.enc != nil {
		w.enc.close()
		w.enc = nil
	}
	if *errp == nil {
		return
	}
	w.db.discard()
	w.files.discard()
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
	err = encodeInOrder(len(ranges),
		func(enc *chunkEncoder, i int) encodedChunk {
			return enc.encode(sorted[ranges[i][0]:ranges[i][1]], opts)
		},
		func(i int, ec encodedChunk) error {
			return w.add(ec, sorted[ranges[i][0]:ranges[i][1]])
		})
	if err != nil {
		return "", "", nil, err
	}
	dbTmp, filesTmp, err = w.finish()
	if err != nil {
		return "", "", nil, err
	}
	return dbTmp, filesTmp, w.index, nil
}

// encodeInOrder encodes chunks 0 to n-1 with encode, in parallel, and
// hands them to take in order; it stops at the first error.
func encodeInOrder(n int, encode func(enc *chunkEncoder, i int) encodedChunk, take func(i int, ec encodedChunk) error) error {
	results := make([]chan encodedChunk, n)
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
				results[i] <- encode(enc, i)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range n {
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
	for i := range n {
		res := <-results[i]
		<-ahead
		if res.err != nil {
			return res.err
		}
		if err := take(i, res); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotIncremental says WriteChanges cannot update these databases in
// place: they were not written in chunks, or with other options. The
// caller reads them whole and writes them with Write.
var ErrNotIncremental = errors.New("the databases cannot be updated in place")

// placed is one item of a chunked file after a change: one an old chunk
// holds, or one given anew.
type placed struct {
	chunk int // the old chunk holding it; -1 for a given one
	i     int // its place in that chunk, or among the given ones
}

// changedChunks plans a chunked file after a change: the items of the old
// chunks (old[c], in archive order) but those named in gone, and the
// given ones (each replacing an item of its name, which gone must name),
// in archive order, cut into chunks as a whole write cuts them. id is an
// item's name and version. It works for the databases (items: keys) and
// the links database (items: links) alike.
func changedChunks[T any](old [][]T, given []T, gone map[string]bool, id func(*T) (name, version string)) ([]placed, [][2]int, error) {
	byDirName := func(a, b *T) int {
		an, av := id(a)
		bn, bv := id(b)
		return compareDirNames(an, av, bn, bv)
	}
	order := make([]int, len(given))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return byDirName(&given[a], &given[b]) })
	// The old items are in archive order already (the indexes check it):
	// the few given ones are merged in rather than sorting a hundred
	// thousand.
	n := len(given)
	for _, c := range old {
		n += len(c)
	}
	items := make([]placed, 0, n)
	names := make([]string, 0, n)
	push := func(p placed, name string) {
		items = append(items, p)
		names = append(names, name)
	}
	for c := range old {
		for i := range old[c] {
			it := &old[c][i]
			name, _ := id(it)
			if gone[name] {
				continue
			}
			for len(order) > 0 && byDirName(&given[order[0]], it) < 0 {
				g, _ := id(&given[order[0]])
				push(placed{chunk: -1, i: order[0]}, g)
				order = order[1:]
			}
			push(placed{chunk: c, i: i}, name)
		}
	}
	for _, g := range order {
		name, _ := id(&given[g])
		push(placed{chunk: -1, i: g}, name)
	}
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return nil, nil, fmt.Errorf("package %s: two entries", names[i])
		}
	}
	return items, chunkRanges(names), nil
}

// unchangedChunk tells whether part is exactly old chunk c (of n items):
// the same items, none given anew.
func unchangedChunk(part []placed, n func(c int) int) (int, bool) {
	c := part[0].chunk
	if c < 0 || len(part) != n(c) {
		return 0, false
	}
	for _, it := range part {
		if it.chunk != c {
			return 0, false
		}
	}
	return c, true
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
	given := make([]Key, len(upserts))
	for i := range upserts {
		e := &upserts[i]
		if err := CheckIdentity(e.Name, e.Version); err != nil {
			return "", "", nil, err
		}
		if gone[e.Name] {
			return "", "", nil, fmt.Errorf("package %s: both registered and removed", e.Name)
		}
		gone[e.Name] = true // its old entry, if any, is replaced
		given[i] = keyOf(e, opts.PGPSig)
	}
	old := make([][]Key, len(ix.Chunks))
	for c := range ix.Chunks {
		old[c] = ix.Chunks[c].Keys
	}
	items, ranges, err := changedChunks(old, given, gone, func(k *Key) (string, string) { return k.Name, k.Version })
	if err != nil {
		return "", "", nil, err
	}

	src, err := openChunkSource(loc, ix)
	if err != nil {
		return "", "", nil, err
	}
	defer src.close()
	w, err := newChunkWriter(loc, opts)
	if err != nil {
		return "", "", nil, err
	}
	defer w.close(&err)
	for _, r := range ranges {
		part := items[r[0]:r[1]]
		if c, same := unchangedChunk(part, func(c int) int { return len(old[c]) }); same {
			if err := w.copyChunk(src, c); err != nil {
				return "", "", nil, err
			}
			continue
		}
		full := make([]*Entry, len(part))
		for i, it := range part {
			if it.chunk < 0 {
				full[i] = &upserts[it.i]
				continue
			}
			if full[i], err = src.entry(it.chunk, &old[it.chunk][it.i]); err != nil {
				return "", "", nil, err
			}
		}
		ec := w.enc.encode(full, opts)
		if ec.err != nil {
			return "", "", nil, ec.err
		}
		if err := w.add(ec, full); err != nil {
			return "", "", nil, err
		}
	}
	dbTmp, filesTmp, err = w.finish()
	if err != nil {
		return "", "", nil, err
	}
	return dbTmp, filesTmp, w.index, nil
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

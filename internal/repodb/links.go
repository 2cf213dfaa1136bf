package repodb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/binrec"
	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/layout"
)

// The links database (NAME.links.tar.EXT, next to the databases, in their
// compression) is the layout Arch's sogrep reads: one directory
// NAME-VERSION per package holding one file, links, that lists the
// libraries the package's ELF files need (DT_NEEDED), one a line, sorted.
// sogrep greps every file of the archive and takes the package from the
// path NAME-VERSION/links, so the archive holds nothing else.

// LinksFile is the links database's file name: NAME.links.tar.EXT.
func (l Location) LinksFile() string { return l.Name + ".links" + l.Ext }

// LinksPath is the links database's path.
func (l Location) LinksPath() string { return filepath.Join(l.Dir, l.LinksFile()) }

// Links is one package of the links database.
type Links struct {
	Name, Version string
	Libraries     []string // sorted, without repeats
}

// maxLinksMember bounds one links file read into memory.
const maxLinksMember = 1 << 20

// ReadLinks reads the links database at path: the libraries of each
// package by its directory, NAME-VERSION. A missing file gives an error
// matching fs.ErrNotExist; one that is damaged is an error naming it.
func ReadLinks(path string) (map[string][]string, error) {
	dec, err := compress.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	out, err := readLinksArchive(dec)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// readLinksArchive reads the links members of a tar archive, by
// directory.
func readLinksArchive(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		dir, file, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if !ok || file != "links" || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxLinksMember {
			return nil, fmt.Errorf("%s: %d bytes", h.Name, h.Size)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		libs := strings.Fields(string(data))
		if libs == nil {
			libs = []string{}
		}
		out[dir] = libs
	}
}

// renderLinks writes the tar members of links: for each package its
// directory and its links file. It does not end the archive.
func renderLinks(tw *tar.Writer, links []*Links) error {
	var body bytes.Buffer
	for _, l := range links {
		dir := l.Name + "-" + l.Version
		body.Reset()
		for _, lib := range l.Libraries {
			body.WriteString(lib)
			body.WriteByte('\n')
		}
		if err := tw.WriteHeader(header(dir+"/", tar.TypeDir, dirMode, 0)); err != nil {
			return err
		}
		if err := tw.WriteHeader(header(dir+"/links", tar.TypeReg, fileMode, int64(body.Len()))); err != nil {
			return err
		}
		if _, err := tw.Write(body.Bytes()); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// WriteLinks replaces loc's links database with links, atomically
// (temporary file, fsync, rename, directory fsync), in the databases'
// compression. In zstd it is written in chunks, as the databases are,
// and its index (.NAME.pacrepo.links-index) recorded for WriteLinksChanges.
func WriteLinks(loc Location, links []Links) error {
	if err := loc.validate(); err != nil {
		return fmt.Errorf("write links database: %w", err)
	}
	format, err := compress.FormatForName(loc.DBFile())
	if err != nil {
		return fmt.Errorf("write links database %s: %w", loc.LinksPath(), err)
	}
	sorted := make([]*Links, len(links))
	for i := range links {
		sorted[i] = &links[i]
	}
	slices.SortFunc(sorted, func(a, b *Links) int {
		return compareDirNames(a.Name, a.Version, b.Name, b.Version)
	})
	if format == compress.Zstd {
		if err := writeLinksChunked(loc, sorted); err != nil {
			return fmt.Errorf("write links database %s: %w", loc.LinksPath(), err)
		}
		return nil
	}
	// Without frames there is nothing an index could point into.
	if err := RemoveLinksIndex(loc); err != nil {
		return fmt.Errorf("write links database %s: %w", loc.LinksPath(), err)
	}
	return fsutil.WriteFileWith(loc.LinksPath(), fileMode, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 64<<10)
		cw, err := compress.NewWriter(bw, format)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(cw)
		if err := renderLinks(tw, sorted); err != nil {
			return err
		}
		if err := errors.Join(tw.Close(), cw.Close()); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// WriteLinksChanges writes loc's links database as lix describes it
// (ReadLinksIndex) with upserts listed (replacing packages of the same
// name) and the packages named in removed dropped, re-encoding only the
// chunks the change touches and copying the others byte for byte: the
// result is the file WriteLinks writes of the same links. A change that
// lists every package of upserts as it is listed already and removes none
// leaves the file as it is. It returns an
// error matching ErrNotIncremental when the links database cannot be
// updated so: the caller then writes it whole with WriteLinks.
func WriteLinksChanges(loc Location, lix *LinksIndex, upserts []Links, removed []string) error {
	if err := loc.validate(); err != nil {
		return fmt.Errorf("write links database: %w", err)
	}
	if err := writeLinksChanges(loc, lix, upserts, removed); err != nil {
		return fmt.Errorf("write links database %s: %w", loc.LinksPath(), err)
	}
	return nil
}

// linksChunkWriter writes a links database in chunks and records its
// index.
type linksChunkWriter struct {
	enc   *chunkEncoder
	out   *chunkStream
	index *LinksIndex
}

func newLinksChunkWriter(loc Location) (*linksChunkWriter, error) {
	enc, err := newChunkEncoder()
	if err != nil {
		return nil, err
	}
	out, err := newChunkStream(loc.Dir, loc.LinksFile())
	if err != nil {
		enc.close()
		return nil, err
	}
	return &linksChunkWriter{enc: enc, out: out, index: &LinksIndex{Chunks: []LinksChunk{}}}, nil
}

// add appends one encoded chunk holding links.
func (w *linksChunkWriter) add(frame []byte, links []*Links) error {
	sp, err := w.out.write(frame)
	if err != nil {
		return err
	}
	keys := make([]Links, len(links))
	for i, l := range links {
		keys[i] = Links{Name: l.Name, Version: l.Version}
	}
	w.index.Chunks = append(w.index.Chunks, LinksChunk{span: sp, Keys: keys})
	return nil
}

// install ends the links database, puts it in place and records its
// index; close removes the temporary when it was not installed.
func (w *linksChunkWriter) install(loc Location) error {
	tmp, err := w.out.finish(w.enc.enc.EncodeAll(endOfArchive, nil))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, loc.LinksPath()); err != nil {
		return err
	}
	if err := fsutil.SyncDir(loc.Dir); err != nil {
		return err
	}
	// The links database is in place: its index only saves work later.
	if err := writeLinksIndex(loc, w.index); err != nil {
		RemoveLinksIndex(loc)
	}
	return nil
}

func (w *linksChunkWriter) close(errp *error) {
	if w.enc != nil {
		w.enc.close()
		w.enc = nil
	}
	if *errp != nil {
		w.out.discard()
	}
}

// writeLinksChunked writes sorted links whole, in chunks compressed in
// parallel.
func writeLinksChunked(loc Location, sorted []*Links) (err error) {
	w, err := newLinksChunkWriter(loc)
	if err != nil {
		return err
	}
	defer w.close(&err)
	names := make([]string, len(sorted))
	for i, l := range sorted {
		names[i] = l.Name
	}
	ranges := chunkRanges(names)
	err = encodeInOrder(len(ranges),
		func(enc *chunkEncoder, i int) encodedChunk {
			part := sorted[ranges[i][0]:ranges[i][1]]
			frame, err := enc.frame(func(tw *tar.Writer) error { return renderLinks(tw, part) })
			return encodedChunk{frames: [][]byte{frame}, err: err}
		},
		func(i int, ec encodedChunk) error {
			return w.add(ec.frames[0], sorted[ranges[i][0]:ranges[i][1]])
		})
	if err != nil {
		return err
	}
	return w.install(loc)
}

// writeLinksChanges implements WriteLinksChanges.
func writeLinksChanges(loc Location, lix *LinksIndex, upserts []Links, removed []string) (err error) {
	gone := map[string]bool{}
	for _, n := range removed {
		gone[n] = true
	}
	for i := range upserts {
		l := &upserts[i]
		if err := CheckIdentity(l.Name, l.Version); err != nil {
			return err
		}
		if gone[l.Name] {
			return fmt.Errorf("package %s: both listed and removed", l.Name)
		}
		gone[l.Name] = true // its old links, if any, are replaced
	}
	old := make([][]Links, len(lix.Chunks))
	for c := range lix.Chunks {
		old[c] = lix.Chunks[c].Keys
	}
	items, ranges, err := changedChunks(old, upserts, gone, func(l *Links) (string, string) { return l.Name, l.Version })
	if err != nil {
		return err
	}
	src, err := os.Open(loc.LinksPath())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotIncremental, err)
	}
	defer src.Close()
	// The index is trusted for the file it was written for, and the
	// repository lock keeps it so; the open file is checked once more.
	if fi, err := src.Stat(); err != nil || fsutil.IDOf(fi) != lix.id {
		return ErrNotIncremental
	}
	read := map[int]map[string][]string{} // old chunk -> directory -> libraries
	if len(removed) == 0 {
		unchanged, err := listedAlready(src, lix, upserts, read)
		if err != nil || unchanged {
			return err
		}
	}
	w, err := newLinksChunkWriter(loc)
	if err != nil {
		return err
	}
	defer w.close(&err)
	for _, r := range ranges {
		part := items[r[0]:r[1]]
		if c, same := unchangedChunk(part, func(c int) int { return len(old[c]) }); same {
			sp, err := w.out.copyFrom(src, lix.Chunks[c].span)
			if err != nil {
				return err
			}
			w.index.Chunks = append(w.index.Chunks, LinksChunk{span: sp, Keys: old[c]})
			continue
		}
		full := make([]*Links, len(part))
		for i, it := range part {
			if it.chunk < 0 {
				full[i] = &upserts[it.i]
				continue
			}
			libs, ok := read[it.chunk]
			if !ok {
				if libs, err = readLinksChunk(src, lix, it.chunk); err != nil {
					return err
				}
				read[it.chunk] = libs
			}
			k := old[it.chunk][it.i]
			full[i] = &Links{Name: k.Name, Version: k.Version, Libraries: libs[k.Name+"-"+k.Version]}
		}
		frame, err := w.enc.frame(func(tw *tar.Writer) error { return renderLinks(tw, full) })
		if err != nil {
			return err
		}
		if err := w.add(frame, full); err != nil {
			return err
		}
	}
	return w.install(loc)
}

// listedAlready tells whether the links database src (which lix
// describes) lists every one of upserts already, with the same libraries:
// the change then changes nothing of it. The chunks it reads are kept in
// read.
func listedAlready(src *os.File, lix *LinksIndex, upserts []Links, read map[int]map[string][]string) (bool, error) {
	for i := range upserts {
		u := &upserts[i]
		// The chunk that would hold it: the first whose last package does
		// not sort before it.
		c, _ := slices.BinarySearchFunc(lix.Chunks, u, func(ch LinksChunk, u *Links) int {
			last := &ch.Keys[len(ch.Keys)-1]
			return compareDirNames(last.Name, last.Version, u.Name, u.Version)
		})
		if c == len(lix.Chunks) {
			return false, nil
		}
		libs, ok := read[c]
		if !ok {
			var err error
			if libs, err = readLinksChunk(src, lix, c); err != nil {
				return false, err
			}
			read[c] = libs
		}
		old, ok := libs[u.Name+"-"+u.Version]
		if !ok || !slices.Equal(old, u.Libraries) {
			return false, nil
		}
	}
	return true, nil
}

// readLinksChunk reads old chunk c of the links database src, checked
// against the index: a chunk that cannot be read or disagrees leaves the
// links database to a whole write.
func readLinksChunk(src *os.File, lix *LinksIndex, c int) (map[string][]string, error) {
	ch := lix.Chunks[c]
	data := make([]byte, ch.Length)
	if _, err := src.ReadAt(data, ch.Offset); err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrNotIncremental, c, src.Name(), err)
	}
	raw, err := compress.DecodeZstdFrames(data, maxChunkSize)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrNotIncremental, c, src.Name(), err)
	}
	libs, err := readLinksArchive(bytes.NewReader(append(raw, endOfArchive...)))
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d of %s: %v", ErrNotIncremental, c, src.Name(), err)
	}
	if len(libs) != len(ch.Keys) {
		return nil, fmt.Errorf("%w: chunk %d of %s lists %d packages, the index says %d", ErrNotIncremental, c, src.Name(), len(libs), len(ch.Keys))
	}
	for _, k := range ch.Keys {
		if _, ok := libs[k.Name+"-"+k.Version]; !ok {
			return nil, fmt.Errorf("%w: chunk %d of %s lacks %s-%s", ErrNotIncremental, c, src.Name(), k.Name, k.Version)
		}
	}
	return libs, nil
}

// LinksIndex is the sidecar of the links database pacrepo wrote last in
// chunks (.NAME.pacrepo.links-index): the packages of each chunk and
// where its frame lies. Like the databases' Index it is trusted only
// while the links database is the very file it was written for.
type LinksIndex struct {
	Chunks []LinksChunk
	id     fsutil.FileID
}

// LinksChunk is one frame of the links database and its packages (Links
// without their libraries), in archive order.
type LinksChunk struct {
	span
	Keys []Links
}

// Packages are the versions of the packages the links database lists, by
// name.
func (lix *LinksIndex) Packages() map[string]string {
	n := 0
	for _, c := range lix.Chunks {
		n += len(c.Keys)
	}
	out := make(map[string]string, n)
	for _, c := range lix.Chunks {
		for _, k := range c.Keys {
			out[k.Name] = k.Version
		}
	}
	return out
}

// ReadLinksIndex returns loc's links index when it describes the links
// database on disk now, and nil otherwise (none, stale, damaged, or of
// another version of pacrepo: the links database is then written whole).
func ReadLinksIndex(loc Location) *LinksIndex {
	data, err := os.ReadFile(linksIndexPath(loc))
	if err != nil {
		return nil
	}
	lix, err := decodeLinksIndex(data)
	if err != nil {
		return nil
	}
	if id, err := fsutil.StatID(loc.LinksPath()); err != nil || id != lix.id {
		return nil
	}
	return lix
}

// RemoveLinksIndex removes loc's links index.
func RemoveLinksIndex(loc Location) error { return fsutil.RemoveIfExists(linksIndexPath(loc)) }

func linksIndexPath(loc Location) string {
	return filepath.Join(loc.Dir, layout.Names{Repo: loc.Name}.LinksIndexFile())
}

const linksIndexMagic = "pacrepo-links-index-1\n"

// writeLinksIndex records lix for the links database now on disk.
func writeLinksIndex(loc Location, lix *LinksIndex) error {
	var err error
	if lix.id, err = fsutil.StatID(loc.LinksPath()); err != nil {
		return err
	}
	var w binrec.Writer
	id := lix.id
	for _, v := range []int64{id.Size, id.MTimeNS, id.CTimeNS, int64(id.Inode), int64(id.Dev)} {
		w.Int(v)
	}
	w.Int(int64(len(lix.Chunks)))
	for _, c := range lix.Chunks {
		w.Int(c.Offset)
		w.Int(c.Length)
		w.Int(int64(len(c.Keys)))
		for _, k := range c.Keys {
			w.String(k.Name)
			w.String(k.Version)
		}
	}
	return fsutil.WriteFile(linksIndexPath(loc), w.Seal(linksIndexMagic), fileMode)
}

// decodeLinksIndex reads what writeLinksIndex wrote, refusing anything
// else: chunks that do not tile the file from its start, or packages out
// of archive order. The packages' strings share data, which is not to be
// written to again.
func decodeLinksIndex(data []byte) (*LinksIndex, error) {
	r, err := binrec.Open(data, linksIndexMagic)
	if err != nil {
		return nil, errBadIndex
	}
	lix := &LinksIndex{}
	lix.id = fsutil.FileID{Size: r.Int(), MTimeNS: r.Int(), CTimeNS: r.Int(), Inode: uint64(r.Int()), Dev: uint64(r.Int())}
	lix.Chunks = make([]LinksChunk, r.Count(3)) // two ints and a count
	var end int64
	var prev *Links
	for i := range lix.Chunks {
		c := &lix.Chunks[i]
		c.Offset, c.Length = r.Int(), r.Int()
		c.Keys = make([]Links, r.Count(2)) // two strings of at least a byte
		for j := range c.Keys {
			c.Keys[j] = Links{Name: r.View(), Version: r.View()}
			k := &c.Keys[j]
			if prev != nil && compareDirNames(prev.Name, prev.Version, k.Name, k.Version) >= 0 {
				return nil, fmt.Errorf("%w: packages out of order", errBadIndex)
			}
			prev = k
		}
		if c.Offset != end || c.Length <= 0 || len(c.Keys) == 0 {
			return nil, fmt.Errorf("%w: chunks do not tile the links database", errBadIndex)
		}
		end += c.Length
	}
	if r.Err() != nil {
		return nil, errBadIndex
	}
	return lix, nil
}

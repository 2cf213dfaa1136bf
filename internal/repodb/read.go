package repodb

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/compress"
)

// Size limits of one archive member. pacman has none, but a desc larger
// than a megabyte or a file list larger than 64 MiB is damage, and an
// unbounded member would let a broken database exhaust memory.
const (
	maxDescSize  = 1 << 20
	maxFilesSize = 64 << 20
	// maxTrailer bounds the padding read after the tar end-of-archive
	// marker (bsdtar pads to 10 KiB records).
	maxTrailer = 1 << 20
)

// readDatabase reads the database file at path. See Read.
func readDatabase(path string, opts ReadOptions) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read database: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read database: %w", err)
	}
	if fi.IsDir() {
		return nil, &Error{Path: path, Kind: Corrupt, Err: errors.New("is a directory")}
	}
	if fi.Size() == 0 {
		return nil, &Error{Path: path, Kind: Empty, Err: errors.New("zero bytes")}
	}
	return ReadFrom(bufio.NewReaderSize(f, 64<<10), path, opts)
}

// classify maps a read error to a kind: an early end of data is
// truncation, everything else damage.
func classify(err error) ErrorKind {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Truncated
	}
	return Corrupt
}

type pendingEntry struct {
	e        Entry
	hasDesc  bool
	hasFiles bool
}

// readArchive decompresses r (any format, by magic bytes) and reads the
// tar stream in it. Members are grouped by their top directory: the
// entry NAME-VERSION/ with its desc, depends (old format) and files.
// Directory members are optional and order does not matter.
func readArchive(r io.Reader, opts ReadOptions) ([]Entry, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	dr, err := decompress(br)
	if err != nil {
		return nil, err
	}
	defer dr.Close()

	cr := &compress.CountingReader{R: dr}
	tr := tar.NewReader(cr)
	pending := map[string]*pendingEntry{}
	members := 0
	var endOfMember int64 // offset just after the data of the last member
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &Error{Kind: classify(err), Err: fmt.Errorf("tar header after %d members: %w", members, err)}
		}
		members++
		endOfMember = cr.N + (hdr.Size+511)/512*512
		name := strings.TrimPrefix(hdr.Name, "./")
		dir, file, hasSlash := strings.Cut(name, "/")
		if !hasSlash || dir == "" {
			// pacman warns about files outside a directory and goes on.
			continue
		}
		p := pending[dir]
		if p == nil {
			p = &pendingEntry{}
			pending[dir] = p
		}
		var limit int64
		switch file {
		case "desc", "depends":
			limit = maxDescSize
		case "files":
			if !opts.Files {
				continue
			}
			limit = maxFilesSize
		default:
			continue // the directory itself, or files pacman ignores (mtree)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, &Error{Entry: name, Kind: Corrupt, Err: fmt.Errorf("not a regular file (type %q)", hdr.Typeflag)}
		}
		if hdr.Size > limit {
			return nil, &Error{Entry: name, Kind: Corrupt, Err: fmt.Errorf("%d bytes, over the limit of %d", hdr.Size, limit)}
		}
		// tr yields exactly hdr.Size bytes, checked against limit above.
		if err := parseDesc(tr, &p.e); err != nil {
			return nil, &Error{Entry: name, Kind: classify(err), Err: err}
		}
		switch file {
		case "desc":
			p.hasDesc = true
		case "files":
			p.hasFiles = true
		}
	}
	// archive/tar reports a clean io.EOF when the stream stops at a header
	// boundary, with or without the two zero blocks that end an archive.
	// Only the marker proves nothing was cut off.
	if cr.N < endOfMember+1024 {
		return nil, &Error{Kind: Truncated, Err: errors.New("no end-of-archive marker")}
	}
	// Read the padding to the end so that the decompressor verifies its
	// checksums and notices a stream cut inside the padding.
	if err := checkTrailer(dr); err != nil {
		return nil, &Error{Kind: classify(err), Err: err}
	}
	if members > 0 && len(pending) == 0 {
		return nil, &Error{Kind: Corrupt, Err: fmt.Errorf("%d archive members but no package entries", members)}
	}
	return collect(pending, opts)
}

// decompress returns the tar stream inside br. A plain tar without
// members (repo-add's empty database is 10 KiB of zeros) has no "ustar"
// magic for compress.NewReader to recognise, so zeros are taken as an
// empty plain tar here.
func decompress(br *bufio.Reader) (io.ReadCloser, error) {
	dr, _, err := compress.NewReader(br)
	switch {
	case err == nil:
		return dr, nil
	case err == io.EOF:
		return nil, &Error{Kind: Empty, Err: errors.New("no data")}
	case errors.Is(err, compress.ErrUnknownFormat):
		head, _ := br.Peek(1024)
		if len(head) > 0 && allZero(head) {
			return io.NopCloser(br), nil // short: the end-marker check says Truncated
		}
	}
	return nil, &Error{Kind: classify(err), Err: fmt.Errorf("decompress: %w", err)}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func checkTrailer(r io.Reader) error {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		if !allZero(buf[:n]) {
			return errors.New("data after the end-of-archive marker")
		}
		total += int64(n)
		if total > maxTrailer {
			return errors.New("too much padding after the end-of-archive marker")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("after the end-of-archive marker: %w", err)
		}
	}
}

// collect checks the grouped entries and returns them sorted by name.
func collect(pending map[string]*pendingEntry, opts ReadOptions) ([]Entry, error) {
	entries := make([]Entry, 0, len(pending))
	byName := make(map[string]string, len(pending))
	for dir, p := range pending {
		e := &p.e
		switch {
		case !p.hasDesc:
			return nil, &Error{Entry: dir, Kind: Corrupt, Err: errors.New("entry has no desc")}
		case e.Name == "" || e.Version == "":
			return nil, &Error{Entry: dir, Kind: Corrupt, Err: errors.New("desc has no %NAME% or %VERSION%")}
		case dir != e.Name+"-"+e.Version:
			return nil, &Error{Entry: dir, Kind: Corrupt, Err: fmt.Errorf("desc names %s %s, not the directory", e.Name, e.Version)}
		}
		if other, dup := byName[e.Name]; dup {
			return nil, &Error{Entry: dir, Kind: Corrupt, Err: fmt.Errorf("package %s is also registered as %s", e.Name, other)}
		}
		byName[e.Name] = dir
		if opts.Files && p.hasFiles && e.Files == nil {
			e.Files = []string{}
		}
		entries = append(entries, *e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return entries, nil
}

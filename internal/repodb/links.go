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

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/fsutil"
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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec, _, err := compress.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer dec.Close()
	out := map[string][]string{}
	tr := tar.NewReader(dec)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		dir, file, ok := strings.Cut(strings.TrimPrefix(h.Name, "./"), "/")
		if !ok || file != "links" || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxLinksMember {
			return nil, fmt.Errorf("read %s: %s: %d bytes", path, h.Name, h.Size)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		libs := strings.Fields(string(data))
		if libs == nil {
			libs = []string{}
		}
		out[dir] = libs
	}
}

// WriteLinks replaces loc's links database with links, atomically
// (temporary file, fsync, rename, directory fsync), in the databases'
// compression.
func WriteLinks(loc Location, links []Links) error {
	if err := loc.validate(); err != nil {
		return fmt.Errorf("write links database: %w", err)
	}
	format, err := compress.FormatForName(loc.DBFile())
	if err != nil {
		return fmt.Errorf("write links database %s: %w", loc.LinksPath(), err)
	}
	sorted := slices.Clone(links)
	slices.SortFunc(sorted, func(a, b Links) int {
		return compareDirNames(a.Name, a.Version, b.Name, b.Version)
	})
	return fsutil.WriteFileWith(loc.LinksPath(), fileMode, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 64<<10)
		cw, err := compress.NewWriter(bw, format)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(cw)
		var body bytes.Buffer
		for _, l := range sorted {
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
		if err := errors.Join(tw.Close(), cw.Close()); err != nil {
			return err
		}
		return bw.Flush()
	})
}

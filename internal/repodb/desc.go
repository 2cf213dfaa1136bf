package repodb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
)

// maxLine bounds one line of a desc file, like pacman (512 KiB).
const maxLine = 512 * 1024

// fieldKind says how a known field is stored in Entry.
type fieldKind int

const (
	single fieldKind = iota
	number
	list
)

// knownFields are the fields of pacman's sync database desc, depends and
// files files, with their kind.
var knownFields = map[string]fieldKind{
	"FILENAME": single, "NAME": single, "BASE": single, "VERSION": single,
	"DESC": single, "GROUPS": list, "CSIZE": number, "ISIZE": number,
	"MD5SUM": single, "SHA256SUM": single, "PGPSIG": single, "URL": single,
	"LICENSE": list, "ARCH": single, "BUILDDATE": number, "PACKAGER": single,
	"REPLACES": list, "CONFLICTS": list, "PROVIDES": list, "DEPENDS": list,
	"OPTDEPENDS": list, "MAKEDEPENDS": list, "CHECKDEPENDS": list, "FILES": list,
}

func stringField(e *Entry, name string) *string {
	switch name {
	case "FILENAME":
		return &e.Filename
	case "NAME":
		return &e.Name
	case "BASE":
		return &e.Base
	case "VERSION":
		return &e.Version
	case "DESC":
		return &e.Desc
	case "MD5SUM":
		return &e.MD5Sum
	case "SHA256SUM":
		return &e.SHA256Sum
	case "PGPSIG":
		return &e.PGPSig
	case "URL":
		return &e.URL
	case "ARCH":
		return &e.Arch
	case "PACKAGER":
		return &e.Packager
	}
	return nil
}

func numberField(e *Entry, name string) *int64 {
	switch name {
	case "CSIZE":
		return &e.CSize
	case "ISIZE":
		return &e.ISize
	case "BUILDDATE":
		return &e.BuildDate
	}
	return nil
}

func listField(e *Entry, name string) *[]string {
	switch name {
	case "GROUPS":
		return &e.Groups
	case "LICENSE":
		return &e.Licenses
	case "REPLACES":
		return &e.Replaces
	case "CONFLICTS":
		return &e.Conflicts
	case "PROVIDES":
		return &e.Provides
	case "DEPENDS":
		return &e.Depends
	case "OPTDEPENDS":
		return &e.OptDepends
	case "MAKEDEPENDS":
		return &e.MakeDepends
	case "CHECKDEPENDS":
		return &e.CheckDepends
	case "FILES":
		return &e.Files
	}
	return nil
}

// scanLF splits on '\n' only: unlike bufio.ScanLines it keeps a trailing
// '\r', which pacman keeps too.
func scanLF(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// parseDesc reads "%FIELD%" headers each followed by values, one a line,
// up to an empty line or the end. Blank lines between fields are skipped.
// A field already set in e (say %DEPENDS% in both desc and depends) is an
// error, as is a line outside any field.
func parseDesc(r io.Reader, e *Entry) error {
	sc := bufio.NewScanner(r)
	err := parseLines(sc, e)
	// bufio.Scanner hands out the partial last line before it reports a
	// read error: a line cut by truncation must be reported as the
	// truncation, not as a malformed line.
	if serr := sc.Err(); serr != nil && err != nil && !errors.Is(serr, bufio.ErrTooLong) {
		return serr
	}
	return err
}

func parseLines(sc *bufio.Scanner, e *Entry) error {
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	sc.Split(scanLF)
	var (
		field   string
		values  []string
		inField bool
		lineNo  int
		seen    = map[string]bool{}
	)
	finish := func() error {
		inField = false
		if seen[field] {
			return fmt.Errorf("duplicate field %%%s%%", field)
		}
		seen[field] = true
		return storeField(e, field, values)
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if !inField {
			if line == "" {
				continue
			}
			if len(line) < 3 || line[0] != '%' || line[len(line)-1] != '%' {
				return fmt.Errorf("line %d: %q is not a %%FIELD%% header", lineNo, truncate(line))
			}
			field, values, inField = line[1:len(line)-1], nil, true
			if strings.ContainsAny(field, "%") {
				return fmt.Errorf("line %d: bad field name %q", lineNo, truncate(line))
			}
			continue
		}
		if line == "" {
			if err := finish(); err != nil {
				return fmt.Errorf("line %d: %w", lineNo, err)
			}
			continue
		}
		values = append(values, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes", lineNo+1, maxLine)
		}
		return err
	}
	if inField {
		if err := finish(); err != nil {
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func storeField(e *Entry, name string, values []string) error {
	kind, known := knownFields[name]
	if !known {
		for _, f := range e.Extra {
			if f.Name == name {
				return fmt.Errorf("duplicate field %%%s%%", name)
			}
		}
		e.Extra = append(e.Extra, Field{Name: name, Values: values})
		return nil
	}
	if kind != list && len(values) > 1 {
		return fmt.Errorf("field %%%s%% has %d values, want one", name, len(values))
	}
	switch kind {
	case single:
		p := stringField(e, name)
		if *p != "" {
			return fmt.Errorf("duplicate field %%%s%%", name)
		}
		if len(values) == 1 {
			*p = values[0]
		}
	case number:
		if len(values) == 0 {
			return fmt.Errorf("field %%%s%% has no value", name)
		}
		p := numberField(e, name)
		if *p != 0 {
			return fmt.Errorf("duplicate field %%%s%%", name)
		}
		n, err := parseNumber(name, values[0])
		if err != nil {
			return err
		}
		*p = n
	case list:
		p := listField(e, name)
		if *p != nil {
			return fmt.Errorf("duplicate field %%%s%%", name)
		}
		if values == nil {
			values = []string{}
		}
		*p = values
	}
	return nil
}

// legacyDate is the date format of very old databases; pacman still
// accepts it for %BUILDDATE% (strptime "%a %b %e %H:%M:%S %Y", local time).
const legacyDate = "Mon Jan _2 15:04:05 2006"

func parseNumber(name, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil && n >= 0 {
		return n, nil
	}
	if name == "BUILDDATE" {
		if t, terr := time.ParseInLocation(legacyDate, s, time.Local); terr == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("field %%%s%%: %q is not a non-negative integer", name, truncate(s))
}

// descWriter accumulates the first error, so that writing a desc reads
// like repo-add's list of format_entry calls.
type descWriter struct {
	buf bytes.Buffer
	err error
}

// field writes "%NAME%\n" and one value a line, then an empty line, when
// there is at least one value. Empty values are dropped: repo-add writes
// them as empty lines, which would end the field early for every reader.
func (d *descWriter) field(name string, values ...string) {
	if d.err != nil {
		return
	}
	wrote := false
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.ContainsAny(v, "\n\x00") {
			d.err = fmt.Errorf("field %%%s%%: value %q contains a newline or NUL", name, truncate(v))
			return
		}
		if !wrote {
			d.buf.WriteString("%" + name + "%\n")
			wrote = true
		}
		d.buf.WriteString(v)
		d.buf.WriteByte('\n')
	}
	if wrote {
		d.buf.WriteByte('\n')
	}
}

func (d *descWriter) number(name string, n int64) {
	d.field(name, strconv.FormatInt(n, 10))
}

// renderDesc appends e's desc to d in repo-add's order (db_write_entry).
// CSIZE, ISIZE and BUILDDATE are always written: makepkg always records
// size and builddate, and repo-add always records the file size, so 0 is
// a real value there, not an absent one.
func renderDesc(d *descWriter, e *Entry, withPGPSig bool) {
	if e.Name == "" || e.Version == "" {
		d.err = fmt.Errorf("entry %q %q: name and version are required", e.Name, e.Version)
		return
	}
	d.field("FILENAME", e.Filename)
	d.field("NAME", e.Name)
	d.field("BASE", e.Base)
	d.field("VERSION", e.Version)
	d.field("DESC", e.Desc)
	d.field("GROUPS", e.Groups...)
	d.number("CSIZE", e.CSize)
	d.number("ISIZE", e.ISize)
	// repo-add writes %MD5SUM% here; we never do (SHA-256 supersedes it).
	d.field("SHA256SUM", e.SHA256Sum)
	if withPGPSig {
		d.field("PGPSIG", e.PGPSig)
	}
	d.field("URL", e.URL)
	d.field("LICENSE", e.Licenses...)
	d.field("ARCH", e.Arch)
	d.number("BUILDDATE", e.BuildDate)
	d.field("PACKAGER", e.Packager)
	d.field("REPLACES", e.Replaces...)
	d.field("CONFLICTS", e.Conflicts...)
	d.field("PROVIDES", e.Provides...)
	d.field("DEPENDS", e.Depends...)
	d.field("OPTDEPENDS", e.OptDepends...)
	d.field("MAKEDEPENDS", e.MakeDepends...)
	d.field("CHECKDEPENDS", e.CheckDepends...)
	// Fields this package does not know come last, in the order they were
	// read. repo-add never writes any; they survive only so that reading
	// and rewriting a database made by a newer tool loses nothing.
	for _, f := range e.Extra {
		if _, known := knownFields[f.Name]; known || f.Name == "" || strings.ContainsAny(f.Name, "%\n\x00") {
			d.err = fmt.Errorf("extra field %q: invalid or known name", f.Name)
			return
		}
		d.field(f.Name, f.Values...)
	}
}

// sortedFiles returns the file list as repo-add writes it: C-sorted
// without duplicates (LC_ALL=C sort -u).
func sortedFiles(files []string) []string {
	out := slices.Clone(files)
	slices.Sort(out)
	return slices.Compact(out)
}

// filesSize is the size of the files member for the sorted list.
func filesSize(sorted []string) (int64, error) {
	n := int64(len("%FILES%\n"))
	for _, f := range sorted {
		if f == "" || strings.ContainsAny(f, "\n\x00") {
			return 0, fmt.Errorf("file list: invalid path %q", truncate(f))
		}
		n += int64(len(f)) + 1
	}
	return n, nil
}

// writeFilesList writes "%FILES%\n" and one path a line through bw, reset
// to w. Like repo-add there is no trailing empty line, and a package
// without files gets the header alone.
func writeFilesList(bw *bufio.Writer, w io.Writer, sorted []string) error {
	bw.Reset(w)
	bw.WriteString("%FILES%\n")
	for _, f := range sorted {
		bw.WriteString(f)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func fromPackage(p *pkgfile.Package) Entry {
	return Entry{
		Filename:     p.Filename,
		Name:         p.Name,
		Base:         p.Base,
		Version:      p.Version,
		Desc:         p.Desc,
		Groups:       slices.Clone(p.Groups),
		CSize:        p.CSize,
		ISize:        p.Size,
		SHA256Sum:    p.SHA256,
		URL:          p.URL,
		Licenses:     slices.Clone(p.Licenses),
		Arch:         p.Arch,
		BuildDate:    p.BuildDate,
		Packager:     p.Packager,
		Replaces:     slices.Clone(p.Replaces),
		Conflicts:    slices.Clone(p.Conflicts),
		Provides:     slices.Clone(p.Provides),
		Depends:      slices.Clone(p.Depends),
		OptDepends:   slices.Clone(p.OptDepends),
		MakeDepends:  slices.Clone(p.MakeDepends),
		CheckDepends: slices.Clone(p.CheckDepends),
		Files:        p.Files, // shared: neither changes a file list, and a reset holds thousands
	}
}

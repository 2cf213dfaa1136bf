package pkgfile

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// MaxELFMember is the largest ELF file of a package that Read examines.
// debug/elf needs random access, and the archive is a stream: an ELF
// member is held in memory while it is read (from a pool, so a scan holds
// one buffer per reader). A larger one is not examined: Libraries.Skipped
// names it with the reason.
const MaxELFMember = 64 << 20

// Soname is a shared library's name as the dynamic linker looks it up
// (DT_SONAME of the library, DT_NEEDED of what links to it), with the ELF
// class of the file that names it: a 32-bit program needs a 32-bit
// library.
type Soname struct {
	Name string // libfoo.so.1
	Bits int    // 32 or 64
}

// Provision is the soname as makepkg writes it in provides and depends
// (libfoo.so=1-64): the name up to ".so", the version after the last
// ".so.", then the class. Like makepkg, a soname with no version after
// ".so" is its own version (libfoo.so=libfoo.so-64).
func (s Soname) Provision() string {
	name, version := splitSoname(s.Name)
	return fmt.Sprintf("%s=%s-%d", name, version, s.Bits)
}

// splitSoname splits libfoo.so.1.2 into libfoo.so and 1.2, as makepkg
// does (${sofile%.so?(+(.+([0-9])))}.so and ${sofile##*.so.}).
func splitSoname(soname string) (name, version string) {
	if i := strings.LastIndex(soname, ".so."); i >= 0 {
		return soname[:i+len(".so")], soname[i+len(".so."):]
	}
	return soname, soname
}

func (s Soname) String() string { return fmt.Sprintf("%s (%d-bit)", s.Name, s.Bits) }

// Libraries is what the ELF files of a package say about shared
// libraries: the sonames its shared objects provide and the libraries its
// programs and libraries need, each sorted and without repeats.
type Libraries struct {
	Provides []Soname // DT_SONAME of each shared object
	Needed   []Soname // DT_NEEDED of each ELF file
	// Skipped are the ELF members not examined, each with its reason
	// ("usr/lib/libhuge.so: 70000000 bytes, over the 67108864 read").
	Skipped []string
}

// Links are the libraries needed, by name, sorted and without repeats:
// the lines of the package's links file in Arch's links database.
func (l *Libraries) Links() []string {
	var out []string
	for _, s := range l.Needed {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// elfDirs are the directories whose files may be ELF programs or
// libraries; the rest of a package (documentation, headers, data) is not
// looked at.
var elfDirs = []string{"usr/lib/", "usr/lib32/", "usr/lib64/", "usr/bin/", "usr/sbin/", "usr/libexec/",
	"usr/local/lib/", "usr/local/bin/", "opt/", "lib/", "lib32/", "lib64/", "bin/", "sbin/"}

// elfCandidate tells whether the archive member name lies where ELF files
// are looked for.
func elfCandidate(name []byte) bool {
	s := name
	for len(s) >= 2 && s[0] == '.' && s[1] == '/' {
		s = s[2:]
	}
	for _, d := range elfDirs {
		// Compared as a string conversion in a comparison, which allocates
		// nothing: this runs for every member of every package.
		if len(s) > len(d) && string(s[:len(d)]) == d {
			return true
		}
	}
	return false
}

// elfBufferPool recycles the buffers ELF members are read into.
var elfBufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// libraryReader collects the Libraries of one package while its archive is
// walked.
type libraryReader struct {
	provides, needed map[Soname]bool
	skipped          []string
}

// member examines the current member of walker, named name, of size bytes:
// when it starts with the ELF magic, it is read (at most MaxELFMember
// bytes) and its dynamic section parsed. Only an error reading the archive
// is returned: an ELF file debug/elf cannot parse is skipped, named with
// the reason, since the package is no less complete for it.
func (lr *libraryReader) member(walker io.Reader, name []byte, size int64) error {
	if size < 64 { // smaller than any ELF header that names libraries
		return nil
	}
	var magic [4]byte
	if _, err := io.ReadFull(walker, magic[:]); err != nil {
		return err
	}
	if string(magic[:]) != elf.ELFMAG {
		return nil
	}
	if size > MaxELFMember {
		lr.skipped = append(lr.skipped, fmt.Sprintf("%s: %d bytes, over the %d read", name, size, MaxELFMember))
		return nil
	}
	buf := elfBufferPool.Get().(*bytes.Buffer)
	defer elfBufferPool.Put(buf)
	buf.Reset()
	buf.Grow(int(size))
	buf.Write(magic[:])
	if _, err := io.CopyN(buf, walker, size-4); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	soname, needed, bits, err := ReadELF(bytes.NewReader(buf.Bytes()))
	if err != nil {
		lr.skipped = append(lr.skipped, fmt.Sprintf("%s: %v", name, err))
		return nil
	}
	if lr.provides == nil {
		lr.provides, lr.needed = map[Soname]bool{}, map[Soname]bool{}
	}
	if soname != "" {
		lr.provides[Soname{soname, bits}] = true
	}
	for _, n := range needed {
		lr.needed[Soname{n, bits}] = true
	}
	return nil
}

// libraries are the Libraries collected.
func (lr *libraryReader) libraries() Libraries {
	sorted := func(m map[Soname]bool) []Soname {
		if len(m) == 0 {
			return nil
		}
		out := make([]Soname, 0, len(m))
		for s := range m {
			out = append(out, s)
		}
		slices.SortFunc(out, compareSonames)
		return out
	}
	return Libraries{Provides: sorted(lr.provides), Needed: sorted(lr.needed), Skipped: lr.skipped}
}

func compareSonames(a, b Soname) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return a.Bits - b.Bits
}

// ReadELF reads the dynamic section of the ELF file r: the soname of a
// shared object (DT_SONAME of an ET_DYN file; "" for a program or a
// library without one), the libraries it needs (DT_NEEDED) and its class
// (32 or 64). A file without a dynamic section (static, or not linked:
// an object file) names none. A malformed file is an error; debug/elf's
// own checks bound what it allocates by the size of r.
func ReadELF(r io.ReaderAt) (soname string, needed []string, bits int, err error) {
	defer func() {
		// debug/elf is meant not to panic on hostile input; a panic that
		// slips through must not take a repository scan with it.
		if p := recover(); p != nil {
			soname, needed, bits, err = "", nil, 0, fmt.Errorf("malformed ELF file: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return "", nil, 0, fmt.Errorf("malformed ELF file: %w", err)
	}
	defer f.Close()
	switch f.Class {
	case elf.ELFCLASS32:
		bits = 32
	case elf.ELFCLASS64:
		bits = 64
	default:
		return "", nil, 0, fmt.Errorf("malformed ELF file: class %v", f.Class)
	}
	if f.Type != elf.ET_DYN && f.Type != elf.ET_EXEC {
		return "", nil, bits, nil
	}
	if f.SectionByType(elf.SHT_DYNAMIC) == nil {
		return "", nil, bits, nil
	}
	needed, err = f.DynString(elf.DT_NEEDED)
	if err != nil {
		return "", nil, 0, fmt.Errorf("malformed ELF file: %w", err)
	}
	if f.Type == elf.ET_DYN {
		names, err := f.DynString(elf.DT_SONAME)
		if err != nil {
			return "", nil, 0, fmt.Errorf("malformed ELF file: %w", err)
		}
		if len(names) > 0 {
			soname = names[0]
		}
	}
	needed = slices.DeleteFunc(needed, func(s string) bool { return s == "" })
	return soname, needed, bits, nil
}

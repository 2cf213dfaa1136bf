// Package pkggen writes synthetic pacman packages quickly and
// deterministically, in makepkg's layout: .BUILDINFO, .MTREE and .PKGINFO
// first, then every directory (with a trailing slash) and file, sorted the
// way makepkg sorts them, compressed according to the file name's
// extension. Tests and the benchmark use it where building thousands of
// packages with makepkg would be too slow; the real makepkg fixtures remain
// the reference (see scripts/build-fixtures.sh).
package pkggen

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/compress"
	"github.com/pacrepo/pacrepo/internal/freelist"
)

// DefaultBuildDate is the build date (and every mtime) of generated
// packages when the spec gives none.
const DefaultBuildDate = 1700000000

// Spec describes a package to generate. Only Name and Version are required.
type Spec struct {
	Name      string
	Base      string // default Name
	Version   string // full version: [epoch:]pkgver-pkgrel
	Arch      string // default "x86_64"
	Desc      string // default "Synthetic package NAME"
	URL       string
	Packager  string // default "Pacrepo Tests <tests@pacrepo.invalid>"
	BuildDate int64  // default DefaultBuildDate
	Ext       string // default ".pkg.tar.zst"

	Licenses     []string
	Groups       []string
	Replaces     []string
	Conflicts    []string
	Provides     []string
	Backup       []string
	Depends      []string
	OptDepends   []string
	MakeDepends  []string
	CheckDepends []string
	Extra        [][2]string // more .PKGINFO lines (key, value), written last

	// Files are written as given (their directories are added).
	Files []File
	// NumFiles more files of FileSize bytes each (default 512) are generated
	// under usr/share/NAME/, twenty to a directory, with pseudo-random text
	// derived from the name, so the same spec always gives the same bytes.
	NumFiles int
	FileSize int
}

// File is one file of a package; Link makes it a symbolic link.
type File struct {
	Path string // relative, e.g. "usr/bin/foo"
	Data []byte
	Mode int64 // default 0644 (0777 for links)
	Link string
}

// FileName is the file name makepkg gives the package of spec s.
func FileName(s Spec) string {
	s = withDefaults(s)
	return fmt.Sprintf("%s-%s-%s%s", s.Name, s.Version, s.Arch, s.Ext)
}

func withDefaults(s Spec) Spec {
	if s.Base == "" {
		s.Base = s.Name
	}
	if s.Arch == "" {
		s.Arch = "x86_64"
	}
	if s.Desc == "" {
		s.Desc = "Synthetic package " + s.Name
	}
	if s.Packager == "" {
		s.Packager = "Pacrepo Tests <tests@pacrepo.invalid>"
	}
	if s.BuildDate == 0 {
		s.BuildDate = DefaultBuildDate
	}
	if s.Ext == "" {
		s.Ext = ".pkg.tar.zst"
	}
	if s.FileSize == 0 {
		s.FileSize = 512
	}
	return s
}

// MakePackage writes the package of spec p into dir under its makepkg file
// name and returns its path. The file appears complete or not at all (it
// is written under a temporary name and renamed).
func MakePackage(dir string, p Spec) (string, error) {
	if p.Name == "" || p.Version == "" {
		return "", fmt.Errorf("make package: name and version are required")
	}
	p = withDefaults(p)
	format, err := compress.FormatForName(p.Ext)
	if err != nil {
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	files := append([]File(nil), p.Files...)
	files = append(files, generated(p)...)

	dst := filepath.Join(dir, FileName(p))
	tmp, err := os.CreateTemp(dir, ".pkggen-*.part")
	if err != nil {
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	defer os.Remove(tmp.Name())
	cw, err := compress.NewWriter(tmp, format)
	if err != nil {
		tmp.Close()
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	if err := writeTar(cw, p, files); err != nil {
		tmp.Close()
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	if err := cw.Close(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("make package %s: %w", p.Name, err)
	}
	return dst, nil
}

// generated returns the NumFiles pseudo-random files of p.
func generated(p Spec) []File {
	if p.NumFiles <= 0 {
		return nil
	}
	h := fnv.New64a()
	io.WriteString(h, p.Name+"\x00"+p.Version)
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x9e3779b97f4a7c15))
	out := make([]File, p.NumFiles)
	for i := range out {
		out[i] = File{
			Path: fmt.Sprintf("usr/share/%s/d%03d/file%05d.txt", p.Name, i/20, i),
			Data: text(rng, p.FileSize),
		}
	}
	return out
}

var words = strings.Fields(`package repository pacman database archive version
	depends provides conflicts replaces build file directory signature mirror
	update install remove upgrade checksum lock journal atomic rename fsync the
	a of to and in is it that for on with as by`)

// text returns n bytes of word salad: compressible like real text files.
func text(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 16)
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(12) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// installedSize is what makepkg's "du -sk --apparent-size" gives, roughly:
// the file contents rounded up to whole KiB.
func installedSize(files []File) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f.Data))
	}
	return (n + 1023) / 1024 * 1024
}

func pkginfo(p Spec, files []File) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by makepkg 6.0.2\n# using fakeroot version 1.31\n")
	kv := func(key string, vals ...string) {
		for _, v := range vals {
			fmt.Fprintf(&b, "%s = %s\n", key, v)
		}
	}
	kv("pkgname", p.Name)
	kv("pkgbase", p.Base)
	kv("pkgver", p.Version)
	kv("pkgdesc", p.Desc)
	if p.URL != "" {
		kv("url", p.URL)
	}
	kv("builddate", fmt.Sprint(p.BuildDate))
	kv("packager", p.Packager)
	kv("size", fmt.Sprint(installedSize(files)))
	kv("arch", p.Arch)
	kv("license", p.Licenses...)
	kv("replaces", p.Replaces...)
	kv("group", p.Groups...)
	kv("conflict", p.Conflicts...)
	kv("provides", p.Provides...)
	kv("backup", p.Backup...)
	kv("depend", p.Depends...)
	kv("optdepend", p.OptDepends...)
	kv("makedepend", p.MakeDepends...)
	kv("checkdepend", p.CheckDepends...)
	for _, e := range p.Extra {
		kv(e[0], e[1])
	}
	return b.Bytes()
}

func buildinfo(p Spec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "format = 2\npkgname = %s\npkgbase = %s\npkgver = %s\npkgarch = %s\n", p.Name, p.Base, p.Version, p.Arch)
	fmt.Fprintf(&b, "pkgbuild_sha256sum = %x\n", sha256.Sum256([]byte(p.Name)))
	fmt.Fprintf(&b, "packager = %s\nbuilddate = %d\nbuilddir = /build\nstartdir = /startdir\n", p.Packager, p.BuildDate)
	b.WriteString("buildtool = pkggen\nbuildtoolver = 1\n")
	for _, v := range []string{"!distcc", "!color", "!ccache", "!check", "!sign"} {
		fmt.Fprintf(&b, "buildenv = %s\n", v)
	}
	for _, v := range []string{"!strip", "docs", "!libtool", "!staticlibs", "emptydirs", "!zipman", "!purge", "!debug", "!lto"} {
		fmt.Fprintf(&b, "options = %s\n", v)
	}
	return b.Bytes()
}

// mtree is a gzip'd mtree listing of the files, like makepkg's .MTREE
// (sha256 digests only; pacman reads it only to validate installed files).
func mtree(p Spec, dirs []string, files []File) ([]byte, error) {
	var m bytes.Buffer
	m.WriteString("#mtree\n/set type=file uid=0 gid=0 mode=644\n")
	for _, d := range dirs {
		fmt.Fprintf(&m, "./%s time=%d.0 mode=755 type=dir\n", mtreeEscape(d), p.BuildDate)
	}
	for _, f := range files {
		if f.Link != "" {
			fmt.Fprintf(&m, "./%s time=%d.0 mode=777 type=link link=%s\n", mtreeEscape(f.Path), p.BuildDate, mtreeEscape(f.Link))
			continue
		}
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&m, "./%s time=%d.0 size=%d sha256digest=%s\n", mtreeEscape(f.Path), p.BuildDate, len(f.Data), hex.EncodeToString(sum[:]))
	}
	var z bytes.Buffer
	zw, ok := gzipWriters.Get()
	if ok {
		zw.Reset(&z)
	} else {
		zw = gzip.NewWriter(&z)
	}
	if _, err := zw.Write(m.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	zw.Reset(nil)
	gzipWriters.Put(zw)
	return z.Bytes(), nil
}

// gzipWriters recycles the mtree's gzip writers: each holds most of a
// megabyte of tables, and tests make thousands of packages.
var gzipWriters = freelist.New[*gzip.Writer](0)

// mtreeEscape escapes like libarchive's mtree writer: octal for spaces,
// backslashes, '#', '=' and non-printable or non-ASCII bytes.
func mtreeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '#' || c == '=' {
			fmt.Fprintf(&b, "\\%03o", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func writeTar(w io.Writer, p Spec, files []File) error {
	// Every parent directory of every file, and the files themselves,
	// sorted by path as makepkg's "LC_ALL=C sort" does.
	dirSet := map[string]bool{}
	for _, f := range files {
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || strings.HasPrefix(f.Path, ".") {
			return fmt.Errorf("file path %q: must be relative and not start with a dot", f.Path)
		}
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			dirSet[d] = true
		}
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })

	mt, err := mtree(p, dirs, files)
	if err != nil {
		return err
	}
	mtime := time.Unix(p.BuildDate, 0)
	tw := tar.NewWriter(w)
	header := func(name string, typ byte, mode, size int64, link string) *tar.Header {
		return &tar.Header{
			Typeflag: typ, Name: name, Linkname: link, Mode: mode, Size: size,
			Uname: "root", Gname: "root", ModTime: mtime, Format: tar.FormatPAX,
		}
	}
	writeFile := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(header(name, tar.TypeReg, mode, int64(len(data)), "")); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := writeFile(".BUILDINFO", 0o644, buildinfo(p)); err != nil {
		return err
	}
	if err := writeFile(".MTREE", 0o644, mt); err != nil {
		return err
	}
	if err := writeFile(".PKGINFO", 0o644, pkginfo(p, files)); err != nil {
		return err
	}

	type item struct {
		path string
		dir  bool
		file *File
	}
	items := make([]item, 0, len(dirs)+len(files))
	for _, d := range dirs {
		items = append(items, item{path: d, dir: true})
	}
	for i := range files {
		items = append(items, item{path: files[i].Path, file: &files[i]})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].path < items[j].path })
	for _, it := range items {
		switch {
		case it.dir:
			if err := tw.WriteHeader(header(it.path+"/", tar.TypeDir, 0o755, 0, "")); err != nil {
				return err
			}
		case it.file.Link != "":
			mode := it.file.Mode
			if mode == 0 {
				mode = 0o777
			}
			if err := tw.WriteHeader(header(it.path, tar.TypeSymlink, mode, 0, it.file.Link)); err != nil {
				return err
			}
		default:
			mode := it.file.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err := writeFile(it.path, mode, it.file.Data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

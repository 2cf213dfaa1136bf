// Package srcinfo parses .SRCINFO files, the metadata makepkg
// --printsrcinfo writes next to a PKGBUILD: a pkgbase section whose values
// every package shares, then one pkgname section per package that may
// override them.
package srcinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// SRCINFO is a parsed .SRCINFO.
type SRCINFO struct {
	Base     Section   // the pkgbase section; Base.Name is the pkgbase
	Packages []Section // the pkgname sections, in file order
}

// Section is one section: its name and its keys with their values, as
// written. In a package section a key present with no value ("depends =")
// is an override that clears the base's values: it is kept as a key with
// an empty slice.
type Section struct {
	Name   string
	Fields map[string][]string
}

// Get returns the values of key in s ("" values dropped).
func (s *Section) Get(key string) []string { return nonEmpty(s.Fields[key]) }

// First returns the first value of key, or "".
func (s *Section) First(key string) string {
	if v := s.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func nonEmpty(v []string) []string {
	var out []string
	for _, s := range v {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseError tells where a .SRCINFO is malformed.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf(".SRCINFO line %d: %s", e.Line, e.Msg) }

// maxLine bounds one line; real lines are short, hostile ones are refused.
const maxLine = 1 << 20

// Parse reads a .SRCINFO. Blank lines and lines starting with '#' are
// ignored; leading and trailing blanks (tabs or spaces) are not part of
// keys or values; a value may itself contain '='.
func Parse(r io.Reader) (*SRCINFO, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var info SRCINFO
	var cur *Section
	seen := map[string]bool{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.Trim(sc.Text(), " \t\r")
		if text == "" || text[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, &ParseError{line, fmt.Sprintf("%q is not \"key = value\"", truncate(text))}
		}
		key = strings.Trim(key, " \t")
		value = strings.Trim(value, " \t")
		if key == "" {
			return nil, &ParseError{line, "empty key"}
		}
		switch key {
		case "pkgbase":
			if info.Base.Name != "" || cur != nil {
				return nil, &ParseError{line, "second pkgbase"}
			}
			if value == "" {
				return nil, &ParseError{line, "empty pkgbase"}
			}
			info.Base = Section{Name: value, Fields: map[string][]string{}}
			cur = &info.Base
		case "pkgname":
			if info.Base.Name == "" {
				return nil, &ParseError{line, "pkgname before pkgbase"}
			}
			if value == "" {
				return nil, &ParseError{line, "empty pkgname"}
			}
			if seen[value] {
				return nil, &ParseError{line, fmt.Sprintf("duplicate pkgname %q", value)}
			}
			seen[value] = true
			info.Packages = append(info.Packages, Section{Name: value, Fields: map[string][]string{}})
			cur = &info.Packages[len(info.Packages)-1]
		default:
			if cur == nil {
				return nil, &ParseError{line, fmt.Sprintf("%q before pkgbase", key)}
			}
			vals := cur.Fields[key]
			if vals == nil {
				vals = []string{}
			}
			if value != "" {
				vals = append(vals, value)
			}
			cur.Fields[key] = vals
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{line + 1, err.Error()}
	}
	if info.Base.Name == "" {
		return nil, &ParseError{line, "no pkgbase"}
	}
	if len(info.Packages) == 0 {
		return nil, &ParseError{line, "no pkgname"}
	}
	return &info, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Version returns [epoch:]pkgver-pkgrel of the base.
func (s *SRCINFO) Version() string {
	v := s.Base.First("pkgver") + "-" + s.Base.First("pkgrel")
	if e := s.Base.First("epoch"); e != "" && e != "0" {
		v = e + ":" + v
	}
	return v
}

// Names returns the package names in file order.
func (s *SRCINFO) Names() []string {
	out := make([]string, len(s.Packages))
	for i, p := range s.Packages {
		out[i] = p.Name
	}
	return out
}

// Package is one package's effective metadata for an architecture.
type Package struct {
	Name, Base, Version, Desc, URL string
	Arch                           []string
	Depends, MakeDepends           []string
	CheckDepends, OptDepends       []string
	Provides, Conflicts, Replaces  []string
	Groups, License                []string
}

// Package returns the effective metadata of pkgname for arch ("" for
// none): each key is the package's override when its section has the key
// (an empty override clears), the base's otherwise; for arch, key_ARCH
// values are added the same way. makedepends and checkdepends belong to
// the base. It returns false when pkgname is not in s.
func (s *SRCINFO) Package(pkgname, arch string) (Package, bool) {
	var sec *Section
	for i := range s.Packages {
		if s.Packages[i].Name == pkgname {
			sec = &s.Packages[i]
		}
	}
	if sec == nil {
		return Package{}, false
	}
	get := func(key string) []string {
		v := s.effective(sec, key)
		if arch != "" && arch != "any" {
			v = append(v, s.effective(sec, key+"_"+arch)...)
		}
		return v
	}
	first := func(key string) string {
		if v := get(key); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return Package{
		Name: pkgname, Base: s.Base.Name, Version: s.Version(),
		Desc: first("pkgdesc"), URL: first("url"), Arch: s.effective(sec, "arch"),
		Depends: get("depends"), MakeDepends: baseArch(s, "makedepends", arch),
		CheckDepends: baseArch(s, "checkdepends", arch), OptDepends: get("optdepends"),
		Provides: get("provides"), Conflicts: get("conflicts"), Replaces: get("replaces"),
		Groups: get("groups"), License: get("license"),
	}, true
}

func (s *SRCINFO) effective(sec *Section, key string) []string {
	if v, ok := sec.Fields[key]; ok {
		return nonEmpty(v)
	}
	return s.Base.Get(key)
}

func baseArch(s *SRCINFO, key, arch string) []string {
	v := s.Base.Get(key)
	if arch != "" && arch != "any" {
		v = append(v, s.Base.Get(key+"_"+arch)...)
	}
	return v
}

// String writes s back as a .SRCINFO, keys sorted within each section; an
// empty override is written "key = ". Parse(String(s)) equals s.
func (s *SRCINFO) String() string {
	var b strings.Builder
	write := func(head string, sec *Section) {
		fmt.Fprintf(&b, "%s = %s\n", head, sec.Name)
		keys := make([]string, 0, len(sec.Fields))
		for k := range sec.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vals := sec.Fields[k]
			if len(vals) == 0 {
				fmt.Fprintf(&b, "\t%s = \n", k)
			}
			for _, v := range vals {
				fmt.Fprintf(&b, "\t%s = %s\n", k, v)
			}
		}
	}
	write("pkgbase", &s.Base)
	for i := range s.Packages {
		b.WriteString("\n")
		write("pkgname", &s.Packages[i])
	}
	return b.String()
}

// CheckFile compares the .SRCINFO at path with what the AUR said of its
// package base: the base's name and the version of each package in
// versions (name -> version). It returns one warning per difference, and
// one when the file cannot be read or parsed.
func CheckFile(path, base string, versions map[string]string) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: no readable .SRCINFO: %v", base, err)}
	}
	defer f.Close()
	info, err := Parse(f)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", base, err)}
	}
	var warnings []string
	if info.Base.Name != base {
		warnings = append(warnings, fmt.Sprintf("%s: .SRCINFO names pkgbase %q", base, info.Base.Name))
	}
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		sp, ok := info.Package(name, "")
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s: .SRCINFO has no package %s", base, name))
			continue
		}
		if sp.Version != versions[name] {
			warnings = append(warnings, fmt.Sprintf("%s: .SRCINFO says %s %s, the AUR %s", base, name, sp.Version, versions[name]))
		}
	}
	return warnings
}

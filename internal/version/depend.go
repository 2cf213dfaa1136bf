package version

import "strings"

// Op is the version operator of a dependency expression.
type Op uint8

// The operators of pacman's dependency expressions. None means the
// expression names no version ("foo").
const (
	None Op = iota
	EQ      // =
	GE      // >=
	LE      // <=
	GT      // >
	LT      // <
)

// String returns the operator as written in a dependency ("" for None).
func (op Op) String() string {
	switch op {
	case EQ:
		return "="
	case GE:
		return ">="
	case LE:
		return "<="
	case GT:
		return ">"
	case LT:
		return "<"
	}
	return ""
}

// holds reports whether cmp, a Compare result of an available version
// against a required one, satisfies op.
func (op Op) holds(cmp int) bool {
	switch op {
	case EQ:
		return cmp == 0
	case GE:
		return cmp >= 0
	case LE:
		return cmp <= 0
	case GT:
		return cmp > 0
	case LT:
		return cmp < 0
	}
	return true
}

// Depend is a dependency expression as found in depends, makedepends,
// optdepends, provides, conflicts and replaces: a name, optionally an
// operator and a version, and, for optdepends, a description.
type Depend struct {
	Name    string
	Op      Op
	Version string // meaningful only when Op is not None
	Desc    string // the text after the first ": ", for optdepends
}

// ParseDepend parses s exactly as libalpm's alpm_dep_from_string does. It
// never fails: every string is some dependency, however odd.
//
// The description starts after the first ": " (the space keeps an epoch,
// "foo=1:2.0", out of it). In what precedes it, the operator is the first
// '<' if there is one, else the first '>', else the first '='; a '=' right
// after '<' or '>' makes it "<=" or ">=". So "a>1<2" is name "a>1", LT "2",
// as in pacman.
func ParseDepend(s string) Depend {
	var d Depend
	spec := s
	if i := strings.Index(s, ": "); i >= 0 {
		spec, d.Desc = s[:i], s[i+2:]
	}
	i := strings.IndexByte(spec, '<')
	if i >= 0 {
		d.Op = LT
	} else if i = strings.IndexByte(spec, '>'); i >= 0 {
		d.Op = GT
	} else if i = strings.IndexByte(spec, '='); i >= 0 {
		d.Op = EQ
	} else {
		d.Name = spec
		return d
	}
	d.Name, d.Version = spec[:i], spec[i+1:]
	if d.Op != EQ && strings.HasPrefix(d.Version, "=") {
		d.Version = d.Version[1:]
		if d.Op == LT {
			d.Op = LE
		} else {
			d.Op = GE
		}
	}
	return d
}

// String writes the dependency back as pacman's alpm_dep_compute_string
// does: ParseDepend(d.String()) == d, and d.String() is the parsed text
// except that an empty description ("foo: ") is dropped.
func (d Depend) String() string {
	var sb strings.Builder
	sb.Grow(len(d.Name) + 2 + len(d.Version) + 2 + len(d.Desc))
	sb.WriteString(d.Name)
	if d.Op != None {
		sb.WriteString(d.Op.String())
		sb.WriteString(d.Version)
	}
	if d.Desc != "" {
		sb.WriteString(": ")
		sb.WriteString(d.Desc)
	}
	return sb.String()
}

// SatisfiedBy reports whether a package with this name, version and list
// of provides (each a dependency expression such as "libfoo.so=1-64" or
// "bar") satisfies d, following libalpm's _alpm_depcmp:
//   - the package itself, if its name is d.Name and its version satisfies
//     d's operator;
//   - or a provide named d.Name: any such provide if d has no version,
//     otherwise only a provide with an exact version ("bar=2") that
//     satisfies d. An unversioned or ranged provide ("bar", "bar>=2")
//     never satisfies a versioned dependency.
//
// A version required without a pkgrel ("foo=1.0") matches every pkgrel
// ("1.0-3"), because Compare skips the release when one side lacks it.
func (d Depend) SatisfiedBy(name, version string, provides []string) bool {
	if name == d.Name && d.versionSatisfied(version) {
		return true
	}
	for _, p := range provides {
		provide := ParseDepend(p)
		if provide.Name != d.Name {
			continue
		}
		if d.Op == None || provide.Op == EQ && d.versionSatisfied(provide.Version) {
			return true
		}
	}
	return false
}

func (d Depend) versionSatisfied(version string) bool {
	if d.Op == None {
		return true
	}
	return d.Op.holds(Compare(version, d.Version))
}

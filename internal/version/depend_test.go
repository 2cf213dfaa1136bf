package version

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

var parseDependCases = []struct {
	in   string
	want Depend
}{
	{"foo", Depend{Name: "foo"}},
	{"foo>=1.2", Depend{Name: "foo", Op: GE, Version: "1.2"}},
	{"foo<=1.2", Depend{Name: "foo", Op: LE, Version: "1.2"}},
	{"foo>1.2", Depend{Name: "foo", Op: GT, Version: "1.2"}},
	{"foo<3", Depend{Name: "foo", Op: LT, Version: "3"}},
	{"foo=1:2.0-1", Depend{Name: "foo", Op: EQ, Version: "1:2.0-1"}},
	{"libfoo.so=1-64", Depend{Name: "libfoo.so", Op: EQ, Version: "1-64"}},
	{"python-foo>=2:1.0", Depend{Name: "python-foo", Op: GE, Version: "2:1.0"}},
	// optdepends: the description starts after the first ": ".
	{"foo: some description: with colons", Depend{Name: "foo", Desc: "some description: with colons"}},
	{"foo>=1:2: needed for bar", Depend{Name: "foo", Op: GE, Version: "1:2", Desc: "needed for bar"}},
	{"foo:bar", Depend{Name: "foo:bar"}},
	{"foo: ", Depend{Name: "foo"}},
	{": desc", Depend{Desc: "desc"}},
	// The operator is found by search order '<', '>', '=', not position.
	{"a>1<2", Depend{Name: "a>1", Op: LT, Version: "2"}},
	{"a=1>2", Depend{Name: "a=1", Op: GT, Version: "2"}},
	{"a=1<=2", Depend{Name: "a=1", Op: LE, Version: "2"}},
	{"a==1", Depend{Name: "a", Op: EQ, Version: "=1"}},
	{"a>==1", Depend{Name: "a", Op: GE, Version: "=1"}},
	{"a=>1", Depend{Name: "a=", Op: GT, Version: "1"}},
	// Operators inside the description do not count.
	{"foo: needs >= 2", Depend{Name: "foo", Desc: "needs >= 2"}},
	// Degenerate strings still parse.
	{"", Depend{}},
	{"=", Depend{Op: EQ}},
	{"<=", Depend{Op: LE}},
	{"foo>=", Depend{Name: "foo", Op: GE}},
	{"foo<: x", Depend{Name: "foo", Op: LT, Desc: "x"}},
}

func TestParseDepend(t *testing.T) {
	for _, c := range parseDependCases {
		got := ParseDepend(c.in)
		if got != c.want {
			t.Errorf("ParseDepend(%q) = %#v, want %#v", c.in, got, c.want)
		}
		if back := ParseDepend(got.String()); back != got {
			t.Errorf("ParseDepend(%q).String() = %q parses as %#v", c.in, got.String(), back)
		}
	}
}

func TestDependString(t *testing.T) {
	cases := []struct {
		d    Depend
		want string
	}{
		{Depend{Name: "foo"}, "foo"},
		{Depend{Name: "foo", Op: GE, Version: "1.2"}, "foo>=1.2"},
		{Depend{Name: "foo", Op: LE, Version: "1.2"}, "foo<=1.2"},
		{Depend{Name: "foo", Op: GT, Version: "1"}, "foo>1"},
		{Depend{Name: "foo", Op: LT, Version: "1"}, "foo<1"},
		{Depend{Name: "foo", Op: EQ, Version: "1:2-3"}, "foo=1:2-3"},
		{Depend{Name: "foo", Desc: "for bar"}, "foo: for bar"},
		{Depend{Name: "foo", Op: EQ, Version: "1", Desc: "x: y"}, "foo=1: x: y"},
		// Like alpm_dep_compute_string, no operator means no version.
		{Depend{Name: "foo", Version: "1"}, "foo"},
	}
	for _, c := range cases {
		if got := c.d.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestSatisfiedBy(t *testing.T) {
	type pkg struct {
		name, version string
		provides      []string
	}
	foo := pkg{"foo", "1.0-2", nil}
	cases := []struct {
		dep  string
		pkg  pkg
		want bool
	}{
		{"foo", foo, true},
		{"foo=1.0", foo, true}, // no pkgrel in the dep: any pkgrel matches
		{"foo=1.0-2", foo, true},
		{"foo=1.0-1", foo, false},
		{"foo>=1.0", foo, true},
		{"foo>1.0", foo, false}, // 1.0-2 is not newer than 1.0
		{"foo>1.0-1", foo, true},
		{"foo<1.0-3", foo, true},
		{"foo<=0.9", foo, false},
		{"foo<2", foo, true},
		{"foo>=1:0.1", foo, false}, // the epoch wins
		{"foo: optional", foo, true},
		{"bar", foo, false},
		{"Foo", foo, false}, // names are case-sensitive
		// Provides.
		{"bar", pkg{"foo", "1-1", []string{"bar"}}, true},
		{"bar>=1", pkg{"foo", "1-1", []string{"bar"}}, false}, // unversioned provide
		{"bar>=1", pkg{"foo", "1-1", []string{"bar=2"}}, true},
		{"bar>=3", pkg{"foo", "1-1", []string{"bar=2"}}, false},
		{"bar=2", pkg{"foo", "1-1", []string{"bar=2-5"}}, true},
		{"bar=2-4", pkg{"foo", "1-1", []string{"bar=2-5"}}, false},
		{"bar>=1", pkg{"foo", "1-1", []string{"bar>=2"}}, false}, // only '=' provides carry a version
		{"bar", pkg{"foo", "1-1", []string{"bar>=2"}}, true},
		{"bar<1", pkg{"foo", "1-1", []string{"baz=0", "bar=0.5"}}, true},
		{"libx.so=1-64", pkg{"libx", "1.2-1", []string{"libx.so=1-64"}}, true},
		{"libx.so=2-64", pkg{"libx", "1.2-1", []string{"libx.so=1-64"}}, false},
		// The package's own version does not count for a provide.
		{"bar=1", pkg{"foo", "1-1", []string{"bar"}}, false},
		// A name mismatch with a satisfying version is no match.
		{"foo>=1", pkg{"foobar", "2-1", nil}, false},
		{"foo>=1", pkg{"foobar", "2-1", []string{"foo=0.5", "foo=1.5"}}, true},
	}
	for _, c := range cases {
		d := ParseDepend(c.dep)
		if got := d.SatisfiedBy(c.pkg.name, c.pkg.version, c.pkg.provides); got != c.want {
			t.Errorf("%q satisfied by %s %s provides %q = %v, want %v",
				c.dep, c.pkg.name, c.pkg.version, c.pkg.provides, got, c.want)
		}
	}
}

// pacmanPath returns pacman, whose -T (deptest) is the reference for
// SatisfiedBy.
func pacmanPath(t testing.TB) string { return testutil.RequireTool(t, "pacman") }

// pacmanUnsatisfied installs nothing: it writes a local database holding
// one package and asks `pacman -T` which of deps that package does not
// satisfy. pacman parses each dependency with alpm_dep_from_string and
// checks it with _alpm_depcmp, the functions ParseDepend and SatisfiedBy
// reproduce.
func pacmanUnsatisfied(t *testing.T, pacman, name, version string, provides, deps []string) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	local := filepath.Join(dir, "db", "local")
	entry := filepath.Join(local, name+"-"+version)
	if err := os.MkdirAll(entry, 0o755); err != nil {
		t.Fatal(err)
	}
	desc := fmt.Sprintf("%%NAME%%\n%s\n\n%%VERSION%%\n%s\n\n", name, version)
	if len(provides) > 0 {
		desc += "%PROVIDES%\n" + strings.Join(provides, "\n") + "\n\n"
	}
	files := map[string]string{
		filepath.Join(local, "ALPM_DB_VERSION"): "9\n",
		filepath.Join(entry, "desc"):            desc,
		filepath.Join(dir, "pacman.conf"):       "[options]\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"--config", filepath.Join(dir, "pacman.conf"),
		"--dbpath", filepath.Join(dir, "db"), "-T", "--"}, deps...)
	cmd := exec.Command(pacman, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// pacman -T exits 127 when some dependency is missing.
	var exitErr *exec.ExitError
	if err != nil && !(errors.As(err, &exitErr) && exitErr.ExitCode() == 127) {
		t.Fatalf("pacman -T: %v: %s", err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Fatalf("pacman -T complained: %s", stderr.Bytes())
	}
	missing := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		missing[strings.TrimSuffix(line, "\n")] = true
	}
	return missing
}

// TestSatisfiedByMatchesPacman checks ParseDepend and SatisfiedBy together
// against pacman's deptest on generated packages and dependencies.
func TestSatisfiedByMatchesPacman(t *testing.T) {
	pacman := pacmanPath(t)
	packages, depsPer := 120, 60
	if testing.Short() {
		packages = 20
	}
	rng := rand.New(rand.NewPCG(7, 1))
	checked := 0
	for range packages {
		name := dependNames[rng.IntN(3)] // foo, bar or baz
		version := smallVersion(rng, false) + "-" + smallNumber(rng)
		var provides []string
		for range rng.IntN(4) {
			provides = append(provides, randomDepend(rng))
		}
		deps := make([]string, depsPer)
		for i := range deps {
			deps[i] = randomDepend(rng)
		}
		missing := pacmanUnsatisfied(t, pacman, name, version, provides, deps)
		for _, dep := range deps {
			want := !missing[dep]
			if got := ParseDepend(dep).SatisfiedBy(name, version, provides); got != want {
				t.Errorf("%q satisfied by %s %s provides %q = %v, pacman says %v",
					dep, name, version, provides, got, want)
			}
			checked++
		}
	}
	t.Logf("%d dependency checks agree with pacman -T", checked)
}

var (
	dependNames = []string{"foo", "bar", "baz", "foo-bar", "lib.so", "foo>", "a=b"}
	dependOps   = []string{"", "", "=", "=", ">=", "<=", ">", "<", "==", "=<"}
)

func smallNumber(rng *rand.Rand) string {
	return []string{"0", "1", "1", "2", "01", "10"}[rng.IntN(6)]
}

// smallVersion draws from few values so that equal and near versions are
// common; withRelease allows a pkgrel.
func smallVersion(rng *rand.Rand, withRelease bool) string {
	v := smallNumber(rng)
	if rng.IntN(3) == 0 {
		v = smallNumber(rng) + ":" + v
	}
	for range rng.IntN(3) {
		v += []string{".", ".", "_", "a", "rc"}[rng.IntN(5)] + smallNumber(rng)
	}
	if withRelease && rng.IntN(2) == 0 {
		v += "-" + smallNumber(rng)
	}
	return v
}

// randomDepend makes a dependency string pacman can take as an argument:
// no newline, no leading '-'.
func randomDepend(rng *rand.Rand) string {
	s := dependNames[rng.IntN(len(dependNames))]
	if op := dependOps[rng.IntN(len(dependOps))]; op != "" {
		s += op + smallVersion(rng, true)
	}
	if rng.IntN(8) == 0 {
		s += []string{": optional", ":x", ": a: b", ": "}[rng.IntN(4)]
	}
	return s
}

func FuzzParseDepend(f *testing.F) {
	for _, c := range parseDependCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseDepend(s)
		// Parsing only cuts s into pieces; String puts them back.
		want := s
		if i := strings.Index(s, ": "); i >= 0 && d.Desc == "" {
			want = s[:i]
		}
		if got := d.String(); got != want {
			t.Fatalf("ParseDepend(%q).String() = %q, want %q", s, got, want)
		}
		if back := ParseDepend(d.String()); back != d {
			t.Fatalf("ParseDepend(%q) = %#v but its String %q parses as %#v", s, d, d.String(), back)
		}
		if d.Op == None && d.Version != "" {
			t.Fatalf("ParseDepend(%q) = %#v: a version without operator", s, d)
		}
		// Any version of the package itself satisfies its bare name.
		if !(Depend{Name: d.Name}).SatisfiedBy(d.Name, d.Version, nil) {
			t.Fatalf("%q not satisfied by itself", d.Name)
		}
	})
}

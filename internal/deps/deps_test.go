package deps

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
)

func libs(provides, needed []string) *pkgfile.Libraries {
	l := &pkgfile.Libraries{}
	for _, s := range provides {
		l.Provides = append(l.Provides, pkgfile.Soname{Name: s, Bits: 64})
	}
	for _, s := range needed {
		bits := 64
		if name, ok := strings.CutSuffix(s, "@32"); ok {
			s, bits = name, 32
		}
		l.Needed = append(l.Needed, pkgfile.Soname{Name: s, Bits: bits})
	}
	return l
}

func problems(rep Report) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Package+" "+p.Needs)
	}
	return out
}

func TestCheck(t *testing.T) {
	local := []Package{
		{Name: "app", Version: "1-1", Depends: []string{"lib>=2", "virt", "exact=1.0", "up"},
			Libs: libs(nil, []string{"libfoo.so.1", "libc.so.6", "libbar.so.3", "libfoo.so.1@32"})},
		{Name: "lib", Version: "2.5-1", Provides: []string{"virt", "exact=1.0", "libbar.so=3-64"}},
		{Name: "foo", Version: "2-1", Libs: libs([]string{"libfoo.so.2"}, nil)},
		// An unversioned provide never satisfies a versioned dependency,
		// a ranged one fails on the version.
		{Name: "strict", Version: "1-1", Depends: []string{"virt>=1", "lib<2", "nothing"}},
	}
	upstream := []Package{{Name: "up", Version: "1-1", Repo: "core"}}
	rep := Check(local, upstream)
	want := []string{"app libfoo.so.1", "strict lib<2", "strict nothing", "strict virt>=1"}
	if got := problems(rep); !slices.Equal(got, want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	for _, p := range rep.Problems {
		wantRebuild := p.Needs == "libfoo.so.1" || p.Needs == "lib<2"
		if p.Rebuild != wantRebuild {
			t.Errorf("%s: rebuild %v", p, p.Rebuild)
		}
	}
	// The 32-bit libfoo.so.1 and libc are known nowhere: external.
	if got := fmt.Sprint(rep.External); got != "[{app libc.so.6} {app libfoo.so.1}]" {
		t.Errorf("external %s", got)
	}
	if !strings.Contains(rep.Problems[0].Reason, "libfoo.so=2-64 by foo 2-1") {
		t.Errorf("reason %q", rep.Problems[0].Reason)
	}
	// Without upstream, "up" is missing.
	if got := problems(Check(local[:3], nil)); !slices.Equal(got, []string{"app up", "app libfoo.so.1"}) {
		t.Errorf("without upstream: %q", got)
	}
}

func TestRebuildOrder(t *testing.T) {
	// c links against b's library, b against a's: a library bump of z
	// needs all three rebuilt, a first.
	local := []Package{
		{Name: "c", Version: "1-1", Libs: libs(nil, []string{"libb.so.1", "libz.so.1"})},
		{Name: "b", Version: "1-1", Libs: libs([]string{"libb.so.1"}, []string{"liba.so.1", "libz.so.1"})},
		{Name: "a", Version: "1-1", Libs: libs([]string{"liba.so.1"}, []string{"libz.so.1"})},
		{Name: "z", Version: "2-1", Libs: libs([]string{"libz.so.2"}, nil)},
	}
	order := func(list []Rebuild) string {
		var names []string
		for _, r := range list {
			names = append(names, r.Package)
		}
		return strings.Join(names, " ")
	}
	if got := order(Rebuilds(local, Check(local, nil))); got != "a b c" {
		t.Errorf("rebuilds %q, want a b c", got)
	}
	local[3].Libs = libs([]string{"libz.so.1"}, nil)
	if got := Rebuilds(local, Check(local, nil)); got != nil {
		t.Errorf("nothing to rebuild, got %v", got)
	}
	if got := order(Dependents(local, []string{"z"})); got != "a b c" {
		t.Errorf("dependents of z %q", got)
	}
	if got := order(Dependents(local, []string{"a"})); got != "b" {
		t.Errorf("dependents of a %q", got)
	}
}

func TestLoadUpstream(t *testing.T) {
	dir := t.TempDir()
	loc := repodb.Location{Dir: dir, Name: "core", Ext: ".tar.gz"}
	if err := repodb.Write(loc, []repodb.Entry{{Name: "glibc", Version: "2.40-1", Filename: "glibc-2.40-1-x86_64.pkg.tar.zst",
		Provides: []string{"libc.so=6-64"}}}, repodb.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	up, err := LoadUpstream([]string{filepath.Join(dir, "core.db")})
	if err != nil || len(up) != 1 || up[0].Repo != "core" {
		t.Fatalf("%v %v", up, err)
	}
	local := []Package{{Name: "app", Version: "1-1", Libs: libs(nil, []string{"libc.so.6", "libc.so.7"})}}
	rep := Check(local, up)
	if got := problems(rep); !slices.Equal(got, []string{"app libc.so.7"}) || !strings.Contains(rep.Problems[0].Reason, "glibc 2.40-1 (core)") {
		t.Errorf("problems %v", rep.Problems)
	}
	if _, err := LoadUpstream([]string{filepath.Join(dir, "extra.db")}); err == nil || !strings.Contains(err.Error(), "extra.db") {
		t.Errorf("a missing upstream database: %v", err)
	}
}

// TestCheckTenThousand: 10,000 packages, each with dependencies and
// libraries, all met, give no problem. How long it takes is
// BenchmarkCheck's to say.
func TestCheckTenThousand(t *testing.T) {
	if rep := Check(synthetic(10000), nil); len(rep.Problems) != 0 {
		t.Errorf("problems: %v", rep.Problems[:1])
	}
}

func BenchmarkCheck(b *testing.B) {
	local := synthetic(10000)
	for b.Loop() {
		Check(local, nil)
	}
}

// synthetic is n packages, each providing a library and a name, and
// depending on and linking against the two before it.
func synthetic(n int) []Package {
	out := make([]Package, n)
	for i := range out {
		p := Package{Name: fmt.Sprintf("pkg%05d", i), Version: "1.0-1", Provides: []string{fmt.Sprintf("virt%05d=1.0", i)},
			Libs: libs([]string{fmt.Sprintf("lib%05d.so.1", i)}, nil)}
		for j := max(i-2, 0); j < i; j++ {
			p.Depends = append(p.Depends, fmt.Sprintf("pkg%05d>=1.0", j), fmt.Sprintf("virt%05d", j))
			p.Libs.Needed = append(p.Libs.Needed, pkgfile.Soname{Name: fmt.Sprintf("lib%05d.so.1", j), Bits: 64})
		}
		out[i] = p
	}
	return out
}

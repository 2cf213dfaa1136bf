package srcinfo

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSplitPackage(t *testing.T) {
	f, err := os.Open("testdata/split.SRCINFO")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if info.Base.Name != "pyqt-split" || info.Version() != "1:5.15.10-2" {
		t.Fatalf("base %q version %q", info.Base.Name, info.Version())
	}
	if got := strings.Join(info.Names(), " "); got != "python-pyqt5 pyqt5-common" {
		t.Fatalf("names %q", got)
	}
	py, ok := info.Package("python-pyqt5", "x86_64")
	if !ok {
		t.Fatal("python-pyqt5 missing")
	}
	want := Package{
		Name: "python-pyqt5", Base: "pyqt-split", Version: "1:5.15.10-2",
		Desc: "A set of Python bindings", URL: "https://www.riverbankcomputing.com/software/pyqt/",
		Arch:         []string{"x86_64", "aarch64"},
		Depends:      []string{"qt5-base", "python>=3.11", "lib32-glibc"},
		MakeDepends:  []string{"sip", "python-build", "nasm"},
		CheckDepends: []string{"python-pytest"},
		OptDepends:   []string{"python-opengl: OpenGL support"},
		Provides:     []string{"pyqt5=1:5.15.10", "python-pyqt5-sip"},
		License:      []string{"GPL-3.0-only"},
	}
	if !reflect.DeepEqual(py, want) {
		t.Errorf("python-pyqt5:\n got %+v\nwant %+v", py, want)
	}
	// Another architecture does not get the x86_64 values.
	if a, _ := info.Package("python-pyqt5", "aarch64"); len(a.Depends) != 2 || len(a.MakeDepends) != 2 {
		t.Errorf("aarch64: %+v", a)
	}
	common, _ := info.Package("pyqt5-common", "x86_64")
	if len(common.Depends) != 0 {
		t.Errorf("empty override did not clear depends: %q", common.Depends)
	}
	if common.Desc != "Common files shared between python-pyqt5 and python2-pyqt5" || !reflect.DeepEqual(common.Arch, []string{"any"}) {
		t.Errorf("pyqt5-common overrides: %+v", common)
	}
	if _, ok := info.Package("nope", ""); ok {
		t.Error("unknown package found")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no pkgbase"},
		{"pkgbase = a\n", "no pkgname"},
		{"pkgname = a\n", "pkgname before pkgbase"},
		{"depends = x\npkgbase = a\n", "before pkgbase"},
		{"pkgbase = a\n\tno equals here\npkgname = a\n", "line 2"},
		{"pkgbase = a\npkgname = a\npkgname = a\n", "duplicate pkgname"},
		{"pkgbase = a\npkgbase = b\n", "second pkgbase"},
		{"pkgbase = \n", "empty pkgbase"},
		{"pkgbase = a\n = x\n", "empty key"},
		{"pkgbase = a\n\tx = " + strings.Repeat("y", maxLine) + "\n", "too long"},
	} {
		_, err := Parse(strings.NewReader(tc.in))
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v, want error with %q", tc.in, err, tc.want)
		}
	}
}

func TestTabsSpacesCommentsCRLF(t *testing.T) {
	in := "# generated\r\npkgbase=a\r\n \t pkgver =1.0 \r\n\tpkgrel\t=\t3\r\n  depends = b=2\r\n\n\t# comment\npkgname = a\r\n"
	info, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := info.Package("a", "")
	if p.Version != "1.0-3" || !reflect.DeepEqual(p.Depends, []string{"b=2"}) {
		t.Errorf("%+v", p)
	}
}

func TestStringRoundTrip(t *testing.T) {
	b, _ := os.ReadFile("testdata/split.SRCINFO")
	info, err := Parse(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(strings.NewReader(info.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(info, again) {
		t.Errorf("round trip differs:\n%s", info.String())
	}
}

func FuzzParseSRCINFO(f *testing.F) {
	b, _ := os.ReadFile("testdata/split.SRCINFO")
	f.Add(string(b))
	f.Add("pkgbase = a\npkgname = a\n\tdepends = \n")
	f.Add("pkgbase=a\r\npkgname=b\r\n#x\n\tk = v = w\n")
	f.Fuzz(func(t *testing.T, in string) {
		info, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, n := range info.Names() {
			if _, ok := info.Package(n, "x86_64"); !ok {
				t.Fatalf("package %q listed but not found", n)
			}
		}
		_ = info.Version()
		again, err := Parse(strings.NewReader(info.String()))
		if err != nil {
			t.Fatalf("reparse of %q: %v", info.String(), err)
		}
		if !reflect.DeepEqual(info, again) {
			t.Fatalf("round trip differs for %q:\n%q", in, info.String())
		}
	})
}

// TestCheckFile: differences between a .SRCINFO and what the AUR said are
// warnings, one each.
func TestCheckFile(t *testing.T) {
	path := filepath.Join("testdata", "split.SRCINFO")
	if w := CheckFile(path, "pyqt-split", map[string]string{"python-pyqt5": "1:5.15.10-2", "pyqt5-common": "1:5.15.10-2"}); len(w) != 0 {
		t.Errorf("agreeing .SRCINFO: %q", w)
	}
	w := CheckFile(path, "other-base", map[string]string{"python-pyqt5": "1:5.15.11-1", "nosuch": "1-1"})
	if len(w) != 3 {
		t.Errorf("want 3 warnings (base, version, missing package), got %q", w)
	}
	if w := CheckFile(filepath.Join(t.TempDir(), "missing"), "b", nil); len(w) != 1 || !strings.Contains(w[0], "no readable .SRCINFO") {
		t.Errorf("missing file: %q", w)
	}
}

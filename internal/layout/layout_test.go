package layout

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	n := Names{Repo: "myrepo", Ignore: []string{"*.uploading"}}
	tests := map[string]Kind{
		"myrepo.db":                         DatabaseLink,
		"myrepo.files":                      DatabaseLink,
		"myrepo.db.tar":                     Database,
		"myrepo.db.tar.zst":                 Database,
		"myrepo.files.tar.xz":               Database,
		"myrepo.db.tar.zst.old":             DatabaseOld,
		"myrepo.files.tar.gz.old":           DatabaseOld,
		"myrepo.db.tar.zst.lck":             DatabaseLock,
		"lastupdate":                        LastUpdate,
		"lastupdate.sig":                    Other,
		".lastupdate":                       Temporary,
		"myrepo.db.sig":                     Signature,
		"myrepo.db.tar.zst.sig":             Signature,
		"myrepo.db.tar.zst.old.sig":         Other,
		"myrepo.db.tar.Z":                   Other,
		"myrepo.db.tar.zst.bak":             Other,
		"other.db.tar.zst":                  Other,
		"other.db":                          Other,
		"foo-1.0-1-x86_64.pkg.tar.zst":      Package,
		"foo-1.0-1-any.pkg.tar":             Package,
		"foo-1:1.0-1-any.pkg.tar.xz":        Package,
		"foo-1.0-1-any.pkg.tar.lrz":         Package,
		"foo-1.0-1-any.pkg.tar.zst.sig":     Signature,
		"foo-1.0-1-any.pkg.tar.zst.bak":     Other,
		"foo-1.0-1-any.pkg.tar.zst.old":     Other,
		"foo.pkg.tar.zst.sig.sig":           Other,
		"foo-1.0-1-any.pkg.tar.zst.part":    Temporary,
		"foo-1.0-1-any.pkg.tar.zst.tmp":     Temporary,
		"foo-1.0-1-any.pkg.tar.zst~":        Temporary,
		"foo.pkg.tar.zst.uploading":         Temporary,
		".foo-1.0-1-any.pkg.tar.zst":        Temporary,
		".myrepo.pacrepo.lock":              Own,
		".myrepo.pacrepo.journal":           Own,
		".myrepo.pacrepo.cache":             Own,
		".myrepo.pacrepo.kept":              Own,
		".pacrepo-tmp-0a1b-foo.pkg.tar.zst": Own,
		".myrepo.db.tar.zst.tmp-0a1b2c":     Own,
		".other.pacrepo.lock":               Temporary,
		".pkg.tar.zst":                      Temporary,
		"pkg.tar.zst":                       Other,
		"foo.sig":                           Other,
		"backup":                            Other,
		"":                                  Other,
		".":                                 Other,
		"..":                                Other,
		"sub/foo-1-1-any.pkg.tar.zst":       Other,
		"sub\\foo-1-1-any.pkg.tar.zst":      Other,
		"foo-1-1-any.pkg.tar.zst\x00":       Other,
		"a\nb-1-1-any.pkg.tar.zst":          Package,
	}
	for name, want := range tests {
		if got := n.Classify(name); got != want {
			t.Errorf("Classify(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLeftover(t *testing.T) {
	n := Names{Repo: "r"}
	for name, want := range map[string]bool{
		".pacrepo-tmp-0a1b-foo.pkg.tar.zst":  true,
		".r.db.tar.zst.tmp-0a1b2c":           true,
		".r.files.tar.tmp-0a":                true,
		".pacrepo-tmp-0a1b-.r.pacrepo.cache": false,
		".pacrepo-tmp-0a1b-.r.pacrepo.watch": false,
		".pacrepo-tmp-":                      false,
		".r.pacrepo.lock":                    false,
		".r.db.tar.zst.tmp-":                 false,
	} {
		if got := n.Leftover(name); got != want {
			t.Errorf("Leftover(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSplitDatabase(t *testing.T) {
	for base, want := range map[string]string{
		"r.db.tar.zst":      "r false .tar.zst",
		"my.db.repo.db.tar": "my.db.repo false .tar",
		"r.files.tar.gz":    "r true .tar.gz",
		"r.db.tar.zst.old":  "",
		"r.db":              "",
		".db.tar.zst":       "",
		"r.db.tar.Z":        "",
		"dir/r.db.tar.zst":  "",
	} {
		name, files, ext, ok := SplitDatabase(base)
		got := ""
		if ok {
			got = strings.Join([]string{name, map[bool]string{true: "true", false: "false"}[files], ext}, " ")
		}
		if got != want {
			t.Errorf("SplitDatabase(%q) = %q, want %q", base, got, want)
		}
	}
}

// FuzzClassify: a public name is always a plain file name of the
// directory, and a signature's base is public.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"myrepo.db", "foo-1-1-any.pkg.tar.zst.sig", ".myrepo.pacrepo.lock", "../x.pkg.tar"} {
		f.Add(s)
	}
	n := Names{Repo: "myrepo"}
	f.Fuzz(func(t *testing.T, name string) {
		k := n.Classify(name)
		if k.Public() && (strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".")) {
			t.Fatalf("%q is %v", name, k)
		}
		if k == Signature && !n.Classify(strings.TrimSuffix(name, ".sig")).Public() {
			t.Fatalf("signature %q of a non-public file", name)
		}
	})
}

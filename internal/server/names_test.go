package server

import (
	"net/url"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		want Kind
	}{
		{"myrepo.db", DatabaseLink},
		{"myrepo.files", DatabaseLink},
		{"myrepo.db.tar", Database},
		{"myrepo.db.tar.zst", Database},
		{"myrepo.db.tar.gz", Database},
		{"myrepo.files.tar.xz", Database},
		{"myrepo.db.sig", Signature},
		{"myrepo.db.tar.zst.sig", Signature},
		{"foo-1.0-1-x86_64.pkg.tar.zst", Package},
		{"foo-1.0-1-any.pkg.tar", Package},
		{"foo-1:1.0-1-any.pkg.tar.xz", Package},
		{"foo-1.0-1-any.pkg.tar.zst.sig", Signature},

		{"myrepo.db.tar.zst.old", NotPublic},
		{"myrepo.files.tar.zst.old", NotPublic},
		{"myrepo.db.tar.zst.lck", NotPublic},
		{"myrepo.db.tar.zst.tmp", NotPublic},
		{"other.db.tar.zst", NotPublic},
		{"other.db", NotPublic},
		{"myrepo.db.tar.zst.old.sig", NotPublic},
		{".myrepo.db.tar.zst", NotPublic},
		{".foo-1.0-1-any.pkg.tar.zst", NotPublic},
		{"foo-1.0-1-any.pkg.tar.zst.part", NotPublic},
		{"foo-1.0-1-any.pkg.tar.zst.tmp", NotPublic},
		{"foo-1.0-1-any.pkg.tar.zst~", NotPublic},
		{"foo-1.0-1-any.pkg.tar.zst.sig.part", NotPublic},
		{".pkg.tar.zst", NotPublic},
		{"pkg.tar.zst", NotPublic},
		{"foo.sig", NotPublic},
		{".sig", NotPublic},
		{"backup", NotPublic},
		{".pacrepo.lock", NotPublic},
		{".pacrepo.journal", NotPublic},
		{"PKGBUILD", NotPublic},
		{"", NotPublic},
		{".", NotPublic},
		{"..", NotPublic},
		{"../myrepo.db", NotPublic},
		{"sub/foo-1-1-any.pkg.tar.zst", NotPublic},
		{"sub\\foo-1-1-any.pkg.tar.zst", NotPublic},
		{"foo-1-1-any.pkg.tar.zst\x00", NotPublic},
	}
	for _, tt := range tests {
		if got := Classify("myrepo", tt.name); got != tt.want {
			t.Errorf("Classify(myrepo, %q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRepoNameOf(t *testing.T) {
	tests := map[string]string{
		"myrepo.db.tar.zst":    "myrepo",
		"my-repo.files.tar.gz": "my-repo",
		"myrepo.db":            "myrepo",
		"myrepo.db.tar":        "myrepo",
		"x.db.tar.zst.old":     "",
		".hidden.db.tar.zst":   "",
		"foo.pkg.tar.zst":      "",
	}
	for base, want := range tests {
		got, ok := repoNameOf(base)
		if got != want || ok != (want != "") {
			t.Errorf("repoNameOf(%q) = %q, %v; want %q", base, got, ok, want)
		}
	}
}

// FuzzClassify checks that nothing classified as public can lead outside a
// flat directory or be a temporary, hidden or backup name.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"r.db", "r.db.tar.zst", "a-1-1-any.pkg.tar.zst.sig", "../r.db", ".x", "r.db.tar.zst.old"} {
		f.Add("r", s)
	}
	f.Fuzz(func(t *testing.T, repo, name string) {
		k := Classify(repo, name)
		if k == NotPublic {
			return
		}
		if strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
			t.Fatalf("Classify(%q, %q) = %v for an unsafe name", repo, name, k)
		}
		for _, bad := range []string{".old", ".tmp", ".part", "~", ".lck"} {
			if strings.HasSuffix(name, bad) || strings.HasSuffix(strings.TrimSuffix(name, ".sig"), bad) {
				t.Fatalf("Classify(%q, %q) = %v for a temporary or old name", repo, name, k)
			}
		}
	})
}

// FuzzSplitPath checks that no request path yields a segment that could
// name something outside a flat directory.
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"/r/r.db", "/r/..%2fx", "/r/%2e%2e", "//x", "/r/a%00b", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			return
		}
		segs, ok := splitPath(u)
		if !ok {
			return
		}
		for _, s := range segs {
			if s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
				t.Fatalf("splitPath(%q) gave unsafe segment %q", raw, s)
			}
		}
	})
}

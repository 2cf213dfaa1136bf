package server

import (
	"net/url"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/layout"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		want layout.Kind
	}{
		{"myrepo.db", layout.DatabaseLink},
		{"myrepo.files", layout.DatabaseLink},
		{"myrepo.db.tar", layout.Database},
		{"myrepo.db.tar.zst", layout.Database},
		{"myrepo.db.tar.gz", layout.Database},
		{"myrepo.files.tar.xz", layout.Database},
		{"myrepo.db.sig", layout.Signature},
		{"myrepo.db.tar.zst.sig", layout.Signature},
		{"foo-1.0-1-x86_64.pkg.tar.zst", layout.Package},
		{"foo-1.0-1-any.pkg.tar", layout.Package},
		{"foo-1:1.0-1-any.pkg.tar.xz", layout.Package},
		{"foo-1.0-1-any.pkg.tar.zst.sig", layout.Signature},

		{"myrepo.db.tar.zst.old", layout.Other},
		{"myrepo.files.tar.zst.old", layout.Other},
		{"myrepo.db.tar.zst.lck", layout.Other},
		{"myrepo.db.tar.zst.tmp", layout.Other},
		{"other.db.tar.zst", layout.Other},
		{"other.db", layout.Other},
		{"myrepo.db.tar.zst.old.sig", layout.Other},
		{".myrepo.db.tar.zst", layout.Other},
		{".foo-1.0-1-any.pkg.tar.zst", layout.Other},
		{"foo-1.0-1-any.pkg.tar.zst.part", layout.Other},
		{"foo-1.0-1-any.pkg.tar.zst.tmp", layout.Other},
		{"foo-1.0-1-any.pkg.tar.zst~", layout.Other},
		{"foo-1.0-1-any.pkg.tar.zst.sig.part", layout.Other},
		{".pkg.tar.zst", layout.Other},
		{"pkg.tar.zst", layout.Other},
		{"foo.sig", layout.Other},
		{".sig", layout.Other},
		{"backup", layout.Other},
		{".pacrepo.lock", layout.Other},
		{".pacrepo.journal", layout.Other},
		{"PKGBUILD", layout.Other},
		{"", layout.Other},
		{".", layout.Other},
		{"..", layout.Other},
		{"../myrepo.db", layout.Other},
		{"sub/foo-1-1-any.pkg.tar.zst", layout.Other},
		{"sub\\foo-1-1-any.pkg.tar.zst", layout.Other},
		{"foo-1-1-any.pkg.tar.zst\x00", layout.Other},
	}
	for _, tt := range tests {
		if got := publicKind("myrepo", tt.name); got != tt.want {
			t.Errorf("publicKind(myrepo, %q) = %v, want %v", tt.name, got, tt.want)
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
		k := publicKind(repo, name)
		if k == layout.Other {
			return
		}
		if strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
			t.Fatalf("publicKind(%q, %q) = %v for an unsafe name", repo, name, k)
		}
		for _, bad := range []string{".old", ".tmp", ".part", "~", ".lck"} {
			if strings.HasSuffix(name, bad) || strings.HasSuffix(strings.TrimSuffix(name, ".sig"), bad) {
				t.Fatalf("publicKind(%q, %q) = %v for a temporary or old name", repo, name, k)
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

package repodb

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// splitName is libalpm's _alpm_splitname: the directory NAME-VERSION of a
// database entry cut at its last two hyphens.
func splitName(dir string) (name, version string, ok bool) {
	i := strings.LastIndexByte(dir, '-')
	if i < 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(dir[:i], '-')
	if j <= 0 {
		return "", "", false
	}
	return dir[:j], dir[j+1:], true
}

func TestCheckIdentity(t *testing.T) {
	good := [][2]string{{"foo", "1.0-1"}, {"my-pkg", "2:1.0.r12.gabc-3.1"}, {"a", "1 2-1"}, {"x", "1_2+3-1"}}
	bad := [][2]string{{"foo", "1.0"}, {"my-pkg", "1.0"}, {"foo", "1.0-1-2"}, {"foo", "1.0-"}, {"foo", "-1"},
		{"foo", "x:1-1"}, {"foo", ":1-1"}, {"foo", "1:2:3-1"}, {"", "1-1"}, {"foo", ""}, {".foo", "1-1"},
		{"-foo", "1-1"}, {"a/b", "1-1"}, {"foo", "1/2-1"}, {"foo", "1\n2-1"},
		{"n\xffx", "1-1"}, {"foo", "1.\xff-1"}, {"foo", "\xc3-1"}, {"foo", "1-\xed\xa0\x80"}}
	for _, c := range good {
		if err := CheckIdentity(c[0], c[1]); err != nil {
			t.Errorf("%q %q: %v", c[0], c[1], err)
		}
	}
	for _, c := range bad {
		if err := CheckIdentity(c[0], c[1]); err == nil {
			t.Errorf("%q %q accepted", c[0], c[1])
		}
	}
}

// FuzzCheckIdentity: whatever CheckIdentity accepts, pacman reads back as
// the same name and version.
func FuzzCheckIdentity(f *testing.F) {
	for _, s := range [][2]string{{"foo", "1.0-1"}, {"my-pkg", "1.0"}, {"foo", "1.0-1-2"}, {"a-b-c", "1:2-3"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, version string) {
		if CheckIdentity(name, version) != nil {
			return
		}
		if !utf8.ValidString(name + version) {
			t.Fatalf("accepted %q %q: pacman cannot read a database path that is not UTF-8", name, version)
		}
		n, v, ok := splitName(name + "-" + version)
		if !ok || n != name || v != version {
			t.Fatalf("accepted %q %q, but pacman reads %q %q (ok %v)", name, version, n, v, ok)
		}
	})
}

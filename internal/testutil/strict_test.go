package testutil

import "testing"

func TestStrict(t *testing.T) {
	for _, c := range []struct {
		ci, strict string
		want       bool
	}{
		{"", "", false},
		{"false", "", false},
		{"0", "", false},
		{"true", "", true},
		{"1", "", true},
		{"yes", "", true},
		{"", "1", true},
		{"false", "1", true},
		{"", "0", false},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv("PACREPO_STRICT", c.strict)
		if got := Strict(); got != c.want {
			t.Errorf("CI=%q PACREPO_STRICT=%q: Strict() = %v, want %v", c.ci, c.strict, got, c.want)
		}
	}
}

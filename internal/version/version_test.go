package version

import (
	"testing"
)

// compareCases are checked against Compare always and against pacman's
// vercmp whenever it is installed (TestCompareCasesMatchVercmp), so every
// expectation here has been confirmed by the reference implementation.
var compareCases = []struct {
	a, b string
	want int
}{
	// pacman's own test suite (test/util/vercmptest.sh).
	{"1.5.0", "1.5.0", 0},
	{"1.5.1", "1.5.0", 1},
	{"1.5.1", "1.5", 1},
	{"1.5.0-1", "1.5.0-1", 0},
	{"1.5.0-1", "1.5.0-2", -1},
	{"1.5.0-1", "1.5.1-1", -1},
	{"1.5.0-2", "1.5.1-1", -1},
	{"1.5-1", "1.5.1-1", -1},
	{"1.5-2", "1.5.1-1", -1},
	{"1.5-2", "1.5.1-2", -1},
	{"1.5", "1.5-1", 0},
	{"1.5-1", "1.5", 0},
	{"1.1-1", "1.1", 0},
	{"1.0-1", "1.1", -1},
	{"1.1-1", "1.0", 1},
	{"1.5b-1", "1.5-1", -1},
	{"1.5b", "1.5", -1},
	{"1.5b-1", "1.5", -1},
	{"1.5b", "1.5.1", -1},
	{"1.0a", "1.0alpha", -1},
	{"1.0alpha", "1.0b", -1},
	{"1.0b", "1.0beta", -1},
	{"1.0beta", "1.0rc", -1},
	{"1.0rc", "1.0", -1},
	{"1.5.a", "1.5", 1},
	{"1.5.b", "1.5.a", 1},
	{"1.5.1", "1.5.b", 1},
	{"1.5.b-1", "1.5.b", 0},
	{"1.5-1", "1.5.b", -1},
	{"2.0", "2_0", 0},
	{"2.0_a", "2_0.a", 0},
	{"2.0a", "2.0.a", -1},
	{"2___a", "2_a", 1},
	{"0:1.0", "0:1.0", 0},
	{"0:1.0", "0:1.1", -1},
	{"1:1.0", "0:1.0", 1},
	{"1:1.0", "0:1.1", 1},
	{"1:1.0", "2:1.1", -1},
	{"1:1.0", "0:1.0-1", 1},
	{"1:1.0-1", "0:1.1-1", 1},
	{"0:1.0", "1.0", 0},
	{"0:1.0", "1.1", -1},
	{"0:1.1", "1.0", 1},
	{"1:1.0", "1.0", 1},
	{"1:1.0", "1.1", 1},
	{"1:1.1", "1.1", 1},

	// Trailing and doubled separators.
	{"1.0", "1.0.", -1},
	{"1.0.", "1.0", 1},
	{"1..0", "1.0", 1},
	{".1", "1", 1},
	{"1", ".1", -1},
	{"1.0+1", "1.0.1", 0},
	{"1.0_1", "1.0.1", 0},
	// '~' is an ordinary separator in pacman, unlike rpm.
	{"1~rc1", "1", 1},
	{"1.0~rc1", "1.0", 1},
	{"1.0~rc1", "1.0.rc1", 0},
	// Leading zeros.
	{"001", "1", 0},
	{"1.01", "1.1", 0},
	{"1.000", "1.0", 0},
	{"1.0010", "1.10", 0},
	{"0", "00", 0},
	// Long numbers do not overflow.
	{"1.99999999999999999999999", "1.100000000000000000000000", -1},
	// Alpha against number, and letter case (byte order: 'Z' < 'a').
	{"a", "1", -1},
	{"1", "a", 1},
	{"abc", "ABC", 1},
	{"1.0.Z", "1.0.a", -1},
	{"1.0a", "1.0.a", -1},
	{"x.1", "x.1.0", -1},
	// Epoch parsing: digits directly before ':' only.
	{"1a:2", "1", -1},
	{":1", "0:1", 0},
	{"00:1", "0:1", 0},
	{"1:0", "1.0", 1},
	{"2:1", "1:9", 1},
	{"1:2:3", "1:2", 1},
	{"1:1-1", "1:1", 0},
	// Release after the last '-'.
	{"1.0-1-2", "1.0-1-3", -1},
	{"1.0rc1", "1.0-rc1", -1},
	{"-1", "1", -1},
	{"1-", "1", 0},
	{"a-", "a", 0},
	{"1.0-", "1.0-1", -1},
	{"1.0-", "1.0-a", 1},
	// Empty strings.
	{"", "", 0},
	{"", "0", -1},
	{"", "a", 1},
	{"", ".", -1},
	// Bytes >= 0x80 are separators (C locale).
	{"1\xc3\xa9", "1", 1},
	{"\xc3\xa91", "1", 1},
	{"1.\xc3\xa9", "1.e", 1},
	{"1\xff", "1", 1},
	{"1\xc3\xa92", "1..2", 0},
	// pacman sees a C string: it ends at the first NUL.
	{"1.0\x00zzz", "1.0", 0},
	{"1.0\x002", "1.0\x001", 0},
}

func TestCompare(t *testing.T) {
	for _, c := range compareCases {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Compare(c.b, c.a); got != -c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

// An ordered list is a stronger check than pairs: every pair of it must
// compare in list order.
func TestCompareOrder(t *testing.T) {
	ordered := []string{
		"", "0", "1.0a", "1.0alpha", "1.0b", "1.0beta", "1.0rc", "1.0rc1",
		"1.0", "1.0.a", "1.0.0", "1.0.1", "1.0.1.", "1.1", "1.2a", "1.2",
		"1.10", "2.0-1", "2.0-2", "2.0.1-1", "1:0.1", "1:1.0", "2:0",
	}
	for i := range ordered {
		for j := range ordered {
			want := sign(i - j)
			if got := Compare(ordered[i], ordered[j]); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestCompareDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range compareCases {
			Compare(c.a, c.b)
		}
	})
	if allocs != 0 {
		t.Errorf("Compare allocates %v times per run of the table", allocs)
	}
}

func BenchmarkCompare(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Compare("1:2.38.1+r12+gabcdef-1", "1:2.38.1+r9+g012345-2")
	}
}

// Package version compares package versions exactly as pacman's
// alpm_pkg_vercmp does, and parses and evaluates dependency expressions
// ("foo>=1.2") as libalpm does.
//
// Exactness matters more than elegance here: a comparison that disagrees
// with pacman once registers the older file and retires the newer one.
// Every quirk of pacman 6.0.2 is therefore reproduced on purpose, including
// the ones that look like bugs (see the tests for a catalogue).
package version

import "strings"

// Compare returns -1, 0 or 1 as a is older than, equal to or newer than b,
// following pacman's alpm_pkg_vercmp.
//
// A version is [epoch:]version[-release]. The epoch is the run of ASCII
// digits before a ':' (missing or empty means "0"); the release is what
// follows the last '-'. Epochs are compared first, then versions, then
// releases, but only when both sides have a release: "1.0" equals "1.0-5".
// Each part is compared by rpmvercmp's segment rules.
//
// pacman works on C strings, so a string is treated as if it ended at its
// first NUL byte. Compare does not allocate.
func Compare(a, b string) int {
	a, b = cString(a), cString(b)
	if a == b {
		return 0
	}
	epochA, verA, relA, hasRelA := splitEVR(a)
	epochB, verB, relB, hasRelB := splitEVR(b)
	if c := rpmvercmp(epochA, epochB); c != 0 {
		return c
	}
	if c := rpmvercmp(verA, verB); c != 0 {
		return c
	}
	// A dependency such as "foo=1.0" must match every pkgrel of 1.0, which
	// is why a release missing on either side is not compared at all.
	if hasRelA && hasRelB {
		return rpmvercmp(relA, relB)
	}
	return 0
}

// cString cuts s at its first NUL byte, the end of the string as C sees it.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// splitEVR splits [epoch:]version[-release] as libalpm's parseEVR does.
// The epoch is only the leading digits and only if a ':' follows them
// directly, so "1a:2" has epoch "0" and version "1a:2". The release starts
// after the last '-' anywhere after the epoch, so "1.0-rc1-2" has version
// "1.0-rc1" and release "2".
func splitEVR(s string) (epoch, ver, rel string, hasRel bool) {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	end := len(s)
	if dash := strings.LastIndexByte(s[n:], '-'); dash >= 0 {
		end = n + dash
		rel, hasRel = s[end+1:], true
	}
	if n < len(s) && s[n] == ':' {
		epoch, ver = s[:n], s[n+1:end]
		if epoch == "" {
			epoch = "0"
		}
	} else {
		epoch, ver = "0", s[:end]
	}
	return epoch, ver, rel, hasRel
}

// rpmvercmp compares one part (epoch, version or release) segment by
// segment, as libalpm's rpmvercmp does. Segments are maximal runs of ASCII
// digits or ASCII letters; every other byte, non-ASCII included, separates.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	// one/two are the scan positions, end1/end2 the ends of the previous
	// segments, named after the C original's one/two and ptr1/ptr2.
	one, two := 0, 0
	end1, end2 := 0, 0
	for one < len(a) && two < len(b) {
		for one < len(a) && !isAlnum(a[one]) {
			one++
		}
		for two < len(b) && !isAlnum(b[two]) {
			two++
		}
		if one == len(a) || two == len(b) {
			break
		}
		// A longer separator run is newer: "1..0" > "1.0".
		if sep1, sep2 := one-end1, two-end2; sep1 != sep2 {
			return sign(sep1 - sep2)
		}
		// The kind of a's segment decides the kind read from b: when b
		// holds the other kind there, b's segment is empty.
		end1, end2 = one, two
		isNum := isDigit(a[one])
		class := isAlpha
		if isNum {
			class = isDigit
		}
		for end1 < len(a) && class(a[end1]) {
			end1++
		}
		for end2 < len(b) && class(b[end2]) {
			end2++
		}
		seg1, seg2 := a[one:end1], b[two:end2]
		if seg2 == "" {
			// Numbers are newer than letters.
			if isNum {
				return 1
			}
			return -1
		}
		if isNum {
			seg1 = strings.TrimLeft(seg1, "0")
			seg2 = strings.TrimLeft(seg2, "0")
			if len(seg1) != len(seg2) {
				return sign(len(seg1) - len(seg2))
			}
		}
		if c := strings.Compare(seg1, seg2); c != 0 {
			return c
		}
		one, two = end1, end2
	}
	// Every segment compared equal; at least one side is used up.
	if one == len(a) && two == len(b) {
		return 0
	}
	// What remains decides: a remaining letter segment makes its side older
	// ("1.0a" < "1.0"); anything else remaining makes its side newer
	// ("1.0.1" > "1.0", and also "1.0." > "1.0").
	if (one == len(a) && !isAlpha(b[two])) || (one < len(a) && isAlpha(a[one])) {
		return -1
	}
	return 1
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// The character classes are C-locale byte tests, as pacman's vercmp runs
// them: bytes >= 0x80 are neither digits nor letters.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

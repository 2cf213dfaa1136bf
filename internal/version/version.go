// Package version compares package versions exactly as pacman's
// alpm_pkg_vercmp does.
package version

// Compare returns -1, 0 or 1 as a is older than, equal to or newer than b.
func Compare(a, b string) int {
	panic("not implemented yet")
}

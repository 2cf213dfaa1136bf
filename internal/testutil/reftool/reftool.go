// Package reftool decides what a test does when a reference tool (makepkg,
// repo-add, pacman, bsdtar, vercmp, xz, ...) or a fixture is missing: skip
// on a developer's machine, FAIL when strict: CI set to anything but "",
// "0" or "false", or PACREPO_STRICT=1 (set by scripts/test.sh, which
// installs the tools first). A tool that a test silently does without
// under CI is a test that silently stopped testing.
//
// It imports nothing of the project, so that the tests of any package,
// even one internal/testutil itself imports (compress), can use it;
// internal/testutil offers the same functions.
package reftool

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether a missing reference tool or fixture must fail a
// test rather than skip it.
func Strict() bool {
	if os.Getenv("PACREPO_STRICT") == "1" {
		return true
	}
	switch os.Getenv("CI") {
	case "", "0", "false", "FALSE", "False":
		return false
	}
	return true
}

// Unavailable fails the test when Strict, and skips it otherwise.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (required: CI or PACREPO_STRICT is set)", msg)
	}
	t.Skip(msg)
}

// Require returns the path of the reference tool name, or ends the test
// (Fatal when Strict, Skip otherwise).
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "reference tool %s not found: run scripts/install-test-deps.sh", name)
	}
	return p
}

// Optional returns the path of the reference tool name for a test that
// also checks what it can without it (a fuzz target's oracle): "" when
// the tool is missing, and the test fails when Strict.
func Optional(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if Strict() {
			t.Fatalf("reference tool %s not found: run scripts/install-test-deps.sh (required: CI or PACREPO_STRICT is set)", name)
		}
		return ""
	}
	return p
}

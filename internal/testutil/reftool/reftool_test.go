package reftool

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

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

// missingTool is a name no PATH holds.
const missingTool = "pacrepo-reftool-test-no-such-tool"

// TestMissingTool: a missing tool skips a test, and fails it when strict,
// for Require and Optional alike (Optional without strict goes on).
func TestMissingTool(t *testing.T) {
	if os.Getenv("REFTOOL_HELPER") != "" {
		switch os.Getenv("REFTOOL_HELPER") {
		case "require":
			Require(t, missingTool)
		case "optional":
			if p := Optional(t, missingTool); p != "" {
				t.Fatalf("Optional found %s", p)
			}
		}
		t.Log("went on")
		return
	}
	for _, c := range []struct {
		helper, ci, strict string
		want               string
	}{
		{"require", "", "", "--- SKIP"},
		{"require", "false", "0", "--- SKIP"},
		{"require", "", "1", "--- FAIL"},
		{"require", "true", "", "--- FAIL"},
		{"optional", "", "", "went on"},
		{"optional", "", "1", "--- FAIL"},
		{"optional", "1", "", "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingTool$", "-test.v")
		cmd.Env = append(os.Environ(), "REFTOOL_HELPER="+c.helper, "CI="+c.ci, "PACREPO_STRICT="+c.strict)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s with CI=%q PACREPO_STRICT=%q: want %q in\n%s", c.helper, c.ci, c.strict, c.want, out)
		}
	}
}

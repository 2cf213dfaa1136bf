package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnits: the units in contrib/systemd run commands and flags
// that exist, and keep their sandboxing.
func TestSystemdUnits(t *testing.T) {
	pacrepo := pacrepoCommand(t)
	env := isolatedEnv(t)
	units, _ := filepath.Glob(filepath.Join("..", "..", "contrib", "systemd", "*.service"))
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	for _, unit := range units {
		data, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, want := range []string{"ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "User=pacrepo"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", unit, want)
			}
		}
		if strings.Contains(unit, "watch") && !strings.Contains(text, "ReadWritePaths=") {
			t.Errorf("%s: watch writes the repository and the inbox: ReadWritePaths is needed", unit)
		}
		for _, line := range strings.Split(text, "\n") {
			cmd, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/pacrepo ")
			if !ok {
				continue
			}
			args := append(strings.Fields(strings.ReplaceAll(cmd, "%i", "farm")), "--help")
			if out, err := runPacrepo(context.Background(), pacrepo, env, args...); err != nil {
				t.Errorf("%s: pacrepo %s: %v\n%s", unit, strings.Join(args, " "), err, out)
			}
		}
	}
}

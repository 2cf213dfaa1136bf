package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pacrepo/pacrepo/internal/cli"
)

// TestMain lets testscript run the real pacrepo command in-process as the
// "pacrepo" command of the scripts. It is the package's only TestMain:
// other test files of package cli and cli_test must not declare one.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"pacrepo": func() { os.Exit(cli.Main(os.Args[1:])) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script starts with an
// empty HOME and XDG configuration directories of its own, and without
// PACREPO_CONFIG or REPOCTL_CONFIG, so the machine's configuration never
// leaks in. $CONFIG is $XDG_CONFIG_HOME; $CONFIG/pacrepo exists, empty.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "script"),
		Cmds: scriptCommands,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			cfg := filepath.Join(home, ".config")
			sys := filepath.Join(env.WorkDir, "etc-xdg")
			for _, d := range []string{filepath.Join(cfg, "pacrepo"), sys} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", cfg)
			env.Setenv("XDG_CONFIG_DIRS", sys)
			env.Setenv("CONFIG", cfg)
			env.Setenv("PACREPO_CONFIG", "")
			env.Setenv("REPOCTL_CONFIG", "")
			env.Setenv("NO_COLOR", "")
			env.Setenv("EDITOR", "")
			env.Setenv("VISUAL", "")
			return nil
		},
	})
}

package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pacrepo/pacrepo/internal/aur/aurtest"
)

// TestAURScripts runs testdata/aurscript/*.txtar against a fake AUR (see
// package aurtest) whose URL is $AUR_URL; scripts pass --aur-url $AUR_URL.
// Nothing reaches the real AUR. The "pacrepo" command is registered by
// script_test.go's TestMain.
func TestAURScripts(t *testing.T) {
	s := aurtest.New(t)
	s.LoadRecorded("info-yay.json", "info-split-outofdate-orphan.json")
	s.Add(
		aurtest.Pkg{Name: "app", Version: "1.0-1", Description: "an application", Maintainer: "alice", NumVotes: 7,
			Depends: []string{"libfoo>=2", "glibc"}, MakeDepends: []string{"buildtool"}},
		aurtest.Pkg{Name: "libfoo", Base: "foo-split", Version: "2.1-1", Maintainer: "alice"},
		aurtest.Pkg{Name: "foo-docs", Base: "foo-split", Version: "2.1-1", Maintainer: "alice"},
		aurtest.Pkg{Name: "buildtool-git", Version: "r10.abc-1", Provides: []string{"buildtool"}, Maintainer: "bob"},
		aurtest.Pkg{Name: "needs-missing", Version: "1-1", Depends: []string{"nowhere>=1"}},
		aurtest.Pkg{Name: "cyc-a", Version: "1-1", Depends: []string{"cyc-b"}},
		aurtest.Pkg{Name: "cyc-b", Version: "1-1", Depends: []string{"cyc-a"}},
	)
	s.SnapshotAll()
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "aurscript"),
		Cmds: scriptCommands,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			for _, d := range []string{filepath.Join(home, ".config"), filepath.Join(env.WorkDir, "sync"), filepath.Join(env.WorkDir, "local")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			env.Setenv("XDG_CONFIG_DIRS", filepath.Join(env.WorkDir, "etc-xdg"))
			env.Setenv("PACREPO_CONFIG", "")
			env.Setenv("REPOCTL_CONFIG", "")
			env.Setenv("AUR_URL", s.URL)
			return nil
		},
	})
}

package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/ui"
)

// Version is pacrepo's version, set at build time from the git tag by
// scripts/install.sh (and so by the Arch package):
//
//	go build -ldflags "-X github.com/pacrepo/pacrepo/internal/cli.Version=1.2.3" ./cmd/pacrepo
//
// When it is left empty, the module version from the build information is
// shown (go install ...@version, or the pseudo-version go build stamps in
// a git checkout), else "devel".
var Version string

// pacrepoVersion is the version pacrepo shows: Version, else the module's.
func pacrepoVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

type versionInfo struct {
	Version    string `json:"version"`
	GoVersion  string `json:"go_version"`
	Platform   string `json:"platform"`
	Module     string `json:"module,omitempty"`
	Revision   string `json:"revision,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified,omitempty"`
	ConfigFile string `json:"config_file"`
	ConfigErr  string `json:"config_error,omitempty"`
	Profile    string `json:"profile"`
	Repo       string `json:"repo,omitempty"`
}

func init() { register(newVersionCommand) }

func newVersionCommand(g *Globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print pacrepo's version, the configuration file and profile in use",
		Long: `Print pacrepo's version and build information, then the configuration file
and the profile (with its repository) that commands would use. A broken
configuration is reported but does not make this command fail.`,
		Example: `  pacrepo version
  pacrepo -P extra version   # which repository the profile extra uses
  pacrepo version --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := collectVersion(g)
			if asJSON {
				return ui.WriteJSON(g.Stdout, info)
			}
			return printVersion(g.Stdout, info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func collectVersion(g *Globals) versionInfo {
	info := versionInfo{
		Version:   pacrepoVersion(),
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.Module = bi.Main.Path
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.CommitTime = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	c, _, err := g.loadConfig()
	if err != nil {
		info.ConfigErr = err.Error()
		return info
	}
	info.ConfigFile = c.Path
	name, p, err := g.selectProfile(c)
	if err != nil {
		info.ConfigErr = err.Error()
		return info
	}
	info.Profile, info.Repo = name, p.Repo
	return info
}

func printVersion(w io.Writer, v versionInfo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "pacrepo %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
	if v.Revision != "" {
		mod := ""
		if v.Modified {
			mod = ", modified"
		}
		fmt.Fprintf(&b, "revision: %s (%s%s)\n", v.Revision, v.CommitTime, mod)
	}
	file := v.ConfigFile
	if file == "" {
		file = "none"
	}
	fmt.Fprintf(&b, "config:   %s\n", file)
	switch {
	case v.ConfigErr != "":
		fmt.Fprintf(&b, "profile:  none (%s)\n", v.ConfigErr)
	case v.Profile == "":
		fmt.Fprintf(&b, "profile:  none (--repo)\nrepo:     %s\n", v.Repo)
	default:
		fmt.Fprintf(&b, "profile:  %s\nrepo:     %s\n", v.Profile, v.Repo)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

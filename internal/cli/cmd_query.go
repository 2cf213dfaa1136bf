package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type queryOptions struct {
	json bool
}

func init() { register(newQueryCommand) }

func newQueryCommand(g *Globals) *cobra.Command {
	var o queryOptions
	cmd := &cobra.Command{
		Use:   "query NAME...",
		Short: "Show the AUR's information about packages",
		Long: `Show everything the AUR knows about each named package, in the style of
pacman -Si. Names the AUR does not know are reported and make the command
exit 1 after printing the others. All names are asked in as few requests
as the AUR's URI length limit allows.`,
		Example: `  pacrepo query yay
  pacrepo query --json yay paru`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuery(cmd, g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the AUR's results as JSON")
	return cmd
}

func runQuery(cmd *cobra.Command, g *Globals, o queryOptions, names []string) error {
	ctx := cmd.Context()
	p, _ := g.aurProfile()
	c := g.newAURClient(p)
	found, err := c.InfoMap(ctx, names)
	if err != nil {
		return err
	}
	var pkgs []aur.Package
	var missing []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if p, ok := found[n]; ok {
			pkgs = append(pkgs, p)
		} else {
			missing = append(missing, n)
		}
	}
	if o.json {
		if pkgs == nil {
			pkgs = []aur.Package{}
		}
		if err := ui.WriteJSON(g.Stdout, pkgs); err != nil {
			return err
		}
	} else {
		for i, p := range pkgs {
			if i > 0 {
				fmt.Fprintln(g.Stdout)
			}
			writePackageInfo(g, c.BaseURL, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not found in the AUR: %s", strings.Join(missing, ", "))
	}
	return nil
}

// writePackageInfo prints p as pacman -Si does: "Key : value", keys
// padded to one width, lists joined by two spaces, optional dependencies
// one per line.
func writePackageInfo(g *Globals, base string, p aur.Package) {
	list := func(v []string) string {
		if len(v) == 0 {
			return "None"
		}
		return strings.Join(v, "  ")
	}
	str := func(s string) string {
		if s == "" {
			return "None"
		}
		return s
	}
	date := func(t int64) string {
		if t == 0 {
			return "None"
		}
		return time.Unix(t, 0).UTC().Format("2006-01-02 15:04:05 UTC")
	}
	outOfDate := "No"
	if p.OutOfDate != nil {
		outOfDate = "Yes, since " + date(*p.OutOfDate)
	}
	rows := [][2]string{
		{"Name", p.Name},
		{"Package Base", p.Base()},
		{"Version", p.Version},
		{"Description", str(p.Description)},
		{"URL", str(p.URL)},
		{"Licenses", list(p.License)},
		{"Groups", list(p.Groups)},
		{"Provides", list(p.Provides)},
		{"Depends On", list(p.Depends)},
		{"Make Deps", list(p.MakeDepends)},
		{"Check Deps", list(p.CheckDepends)},
		{"Optional Deps", strings.Join(orNone(p.OptDepends), "\n")},
		{"Conflicts With", list(p.Conflicts)},
		{"Replaces", list(p.Replaces)},
		{"Keywords", list(p.Keywords)},
		{"Maintainer", str(p.Maintainer)},
		{"Co-Maintainers", list(p.CoMaintainers)},
		{"Submitter", str(p.Submitter)},
		{"Votes", strconv.Itoa(p.NumVotes)},
		{"Popularity", strconv.FormatFloat(p.Popularity, 'f', -1, 64)},
		{"First Submitted", date(p.FirstSubmitted)},
		{"Last Modified", date(p.LastModified)},
		{"Out Of Date", outOfDate},
		{"AUR URL", base + "/packages/" + p.Name},
		{"Snapshot URL", base + p.URLPath},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	pad := strings.Repeat(" ", width+3)
	for _, r := range rows {
		value := strings.ReplaceAll(r[1], "\n", "\n"+pad)
		fmt.Fprintf(g.Stdout, "%-*s : %s\n", width, r[0], value)
	}
}

func orNone(v []string) []string {
	if len(v) == 0 {
		return []string{"None"}
	}
	return v
}

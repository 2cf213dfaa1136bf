package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type searchOptions struct {
	by   string
	sort string
	json bool
	raw  bool
	info bool
}

func init() { register(newSearchCommand) }

func newSearchCommand(g *Globals) *cobra.Command {
	var o searchOptions
	fields := make([]string, len(aur.SearchFields))
	for i, f := range aur.SearchFields {
		fields[i] = string(f)
	}
	cmd := &cobra.Command{
		Use:   "search QUERY...",
		Short: "Search the AUR",
		Long: `Search the AUR for packages matching every word of QUERY. The AUR is asked
for the longest word; the others filter its answer here, as yay does (for
fields other than name and name-desc each word is asked and the results
intersected).

--by chooses the field: ` + strings.Join(fields, ", ") + `.`,
		Example: `  pacrepo search yay
  pacrepo search --by maintainer someone
  pacrepo search --sort votes python qt --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.by, "by", "name", "field to search: "+strings.Join(fields, "|"))
	f.StringVarP(&o.sort, "sort", "b", "name", "order: name, votes or popularity, each also NAME-reverse")
	f.StringVar(&o.sort, "sort-by", "name", "same as --sort (repoctl's name)")
	f.Lookup("sort-by").Hidden = true
	f.BoolVar(&o.json, "json", false, "print the AUR's results as JSON")
	f.BoolVarP(&o.raw, "raw", "r", false, "print only the names (as -q)")
	f.BoolVarP(&o.info, "info", "i", false, "print each result's full information, as query does")
	cmd.MarkFlagsMutuallyExclusive("raw", "info", "json")
	return cmd
}

func runSearch(cmd *cobra.Command, g *Globals, o searchOptions, words []string) error {
	by, err := aur.ParseSearchBy(o.by)
	if err != nil {
		return usage(err)
	}
	sortName, reverse := strings.CutSuffix(o.sort, "-reverse")
	key, err := aur.ParseSortKey(sortName)
	if err != nil {
		return usage(fmt.Errorf("--sort: %w (each may end in -reverse)", err))
	}
	ctx := cmd.Context()
	p, _ := g.aurProfile()
	pkgs, err := g.newAURClient(p).SearchWords(ctx, by, words)
	if err != nil {
		return err
	}
	aur.Sort(pkgs, key)
	if reverse {
		slices.Reverse(pkgs)
	}
	if o.info {
		return g.printSearchInfo(ctx, pkgs, p)
	}
	if o.json {
		if pkgs == nil {
			pkgs = []aur.Package{}
		}
		return ui.WriteJSON(g.Stdout, pkgs)
	}
	u := g.output()
	for _, p := range pkgs {
		if u.Quiet || o.raw {
			fmt.Fprintln(g.Stdout, p.Name)
			continue
		}
		line := fmt.Sprintf("%s %s (+%d %.2f)", u.Bold("aur/"+p.Name), u.Green(p.Version), p.NumVotes, p.Popularity)
		if p.IsOutOfDate() {
			line += " " + u.Red("[out of date]")
		}
		if p.Maintainer == "" {
			line += " " + u.Yellow("[orphan]")
		}
		fmt.Fprintln(g.Stdout, line)
		if p.Description != "" {
			fmt.Fprintf(g.Stdout, "    %s\n", p.Description)
		}
	}
	return nil
}

// printSearchInfo prints every result as query does: a search result
// lacks the dependency lists, so they are asked for in one info request.
func (g *Globals) printSearchInfo(ctx context.Context, pkgs []aur.Package, p *config.Profile) error {
	c := g.newAURClient(p)
	names := make([]string, len(pkgs))
	for i, pkg := range pkgs {
		names[i] = pkg.Name
	}
	full, err := c.InfoMap(ctx, names)
	if err != nil {
		return err
	}
	for i, pkg := range pkgs {
		if i > 0 {
			fmt.Fprintln(g.Stdout)
		}
		if f, ok := full[pkg.Name]; ok {
			pkg = f
		}
		writePackageInfo(g, c.BaseURL, pkg)
	}
	return nil
}

package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/aur"
	"github.com/pacrepo/pacrepo/internal/ui"
)

type searchOptions struct {
	by   string
	sort string
	json bool
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
	f.StringVar(&o.sort, "sort", "name", "order: name, votes or popularity")
	f.BoolVar(&o.json, "json", false, "print the AUR's results as JSON")
	return cmd
}

func runSearch(cmd *cobra.Command, g *Globals, o searchOptions, words []string) error {
	by, err := aur.ParseSearchBy(o.by)
	if err != nil {
		return withExit(ExitUsage, err)
	}
	key, err := aur.ParseSortKey(o.sort)
	if err != nil {
		return withExit(ExitUsage, err)
	}
	ctx, cancel := commandContext(cmd)
	defer cancel()
	p, _ := g.aurProfile()
	pkgs, err := g.newAURClient(p).SearchWords(ctx, by, words)
	if err != nil {
		return err
	}
	aur.Sort(pkgs, key)
	if o.json {
		if pkgs == nil {
			pkgs = []aur.Package{}
		}
		return ui.WriteJSON(g.Stdout, pkgs)
	}
	u := g.output()
	for _, p := range pkgs {
		if u.Quiet {
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

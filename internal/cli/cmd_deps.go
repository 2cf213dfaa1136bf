package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/deps"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/ui"
)

// dependencyState reads what the dependency commands judge: the selected
// repository's packages and those of its upstream sync databases.
func dependencyState(cmd *cobra.Command, g *Globals, sel *profileSelection) (name string, local, upstream []deps.Package, err error) {
	if upstream, err = deps.LoadUpstream(sel.Profile.UpstreamDatabases()); err != nil {
		return "", nil, nil, err
	}
	if isObjectStorage(sel) {
		r, err := g.objectRepo(cmd.Context(), sel, changeFlags{})
		if err != nil {
			return "", nil, nil, err
		}
		if local, err = r.DependencyPackages(cmd.Context()); err != nil {
			return "", nil, nil, err
		}
		return r.Address().Name, local, upstream, nil
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return "", nil, nil, err
	}
	if local, err = repo.New(opts).DependencyPackages(cmd.Context()); err != nil {
		return "", nil, nil, err
	}
	return opts.DB.Name, local, upstream, nil
}

// runCheckDeps is check --deps: every package's dependencies and needed
// libraries, exit 5 when some are not met.
func runCheckDeps(cmd *cobra.Command, g *Globals, o checkOptions) error {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	name, local, upstream, err := dependencyState(cmd, g, sel)
	if err != nil {
		return err
	}
	rep := deps.Check(local, upstream)
	if o.json {
		if rep.Problems == nil {
			rep.Problems = []deps.Problem{}
		}
		if rep.External == nil {
			rep.External = []deps.External{}
		}
		if err := ui.WriteJSON(g.Stdout, struct {
			Repo    string `json:"repo"`
			Checked int    `json:"checked"`
			deps.Report
		}{name, len(local), rep}); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(g.Stdout, "%s: %s\n", p.Kind, p)
		}
		if !g.output().Quiet {
			for _, e := range rep.External {
				fmt.Fprintf(g.Stdout, "external: %s needs %s, which no package known provides\n", e.Package, e.Library)
			}
			fmt.Fprintf(g.Stdout, "checked the dependencies of %s: %s\n", plural(len(local), "package"), plural(len(rep.Problems), "problem"))
		}
	}
	if len(rep.Problems) > 0 {
		return reported(&problemsFoundError{remaining: len(rep.Problems)})
	}
	return nil
}

type rebuildsOptions struct{ json bool }

func init() { register(newRebuildsCommand) }

func newRebuildsCommand(g *Globals) *cobra.Command {
	var o rebuildsOptions
	cmd := &cobra.Command{
		Use:   "rebuilds [NAME...]",
		Short: "List the packages that need a rebuild, in build order",
		Long: `List the packages of the repository that need a rebuild because a library
they link against is no longer provided at that soname, or a dependency's
version constraint no longer holds, in build order (dependencies first).

With NAMEs, list the packages that would need a rebuild if those packages
changed: those linking against a library they provide, or depending on
them with a version constraint.`,
		Example: `  pacrepo rebuilds
  pacrepo rebuilds libfoo
  pacrepo rebuilds --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRebuilds(cmd, g, o, args)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON")
	return cmd
}

func runRebuilds(cmd *cobra.Command, g *Globals, o rebuildsOptions, names []string) error {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	_, local, upstream, err := dependencyState(cmd, g, sel)
	if err != nil {
		return err
	}
	var list []deps.Rebuild
	if len(names) > 0 {
		list = deps.Dependents(local, names)
	} else {
		list = deps.Rebuilds(local, deps.Check(local, upstream))
	}
	if o.json {
		if list == nil {
			list = []deps.Rebuild{}
		}
		return ui.WriteJSON(g.Stdout, list)
	}
	for _, r := range list {
		fmt.Fprintf(g.Stdout, "%s %s\n", r.Package, r.Version)
		if !g.output().Quiet {
			for _, b := range r.Because {
				fmt.Fprintf(g.Stdout, "  %s\n", b)
			}
		}
	}
	return nil
}

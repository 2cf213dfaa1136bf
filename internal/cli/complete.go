package cli

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/repodb"
)

// Shell completion helpers. They run inside `pacrepo __complete ...` while
// the user presses TAB: they must be fast, work offline and print nothing
// (an error means no suggestions, never a message in the prompt).

// registerFlagCompletions adds completion of the root's persistent flags:
// profile names for -P/--profile, the colour modes for --color, TOML files
// for --config and databases for --repo. NewRootCommand should call it
// once the flags are defined.
func registerFlagCompletions(root *cobra.Command, g *Globals) {
	_ = root.RegisterFlagCompletionFunc("profile", completeProfileNames(g))
	_ = root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions(
		[]cobra.Completion{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"toml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	_ = root.RegisterFlagCompletionFunc("repo", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"db.tar", "db.tar.zst", "db.tar.xz", "db.tar.gz", "db.tar.bz2", "db.tar.lz4"}, cobra.ShellCompDirectiveFilterFileExt
	})
}

// completeProfileNames completes -P/--profile with the profiles of the
// configuration file.
func completeProfileNames(g *Globals) func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, _, err := g.loadConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(c.ProfileNames(), toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRegisteredNames completes package names registered in the
// repository's database (the profile's, or --repo's), read in-process,
// leaving out names already on the command line. For remove, update,
// status and list.
func completeRegisteredNames(g *Globals) func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		names, err := registeredNames(g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(names, toComplete, args), cobra.ShellCompDirectiveNoFileComp
	}
}

func registeredNames(g *Globals) ([]string, error) {
	c, _, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	_, p, err := g.selectProfile(c)
	if err != nil {
		return nil, err
	}
	loc, err := repodb.ParseLocation(p.Repo)
	if err != nil {
		return nil, err
	}
	entries, err := repodb.Read(loc.DBPath(), repodb.ReadOptions{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names, nil
}

// packageFileExts are the package file extensions offered for add.
var packageFileExts = []cobra.Completion{
	"pkg.tar", "pkg.tar.zst", "pkg.tar.xz", "pkg.tar.gz", "pkg.tar.bz2", "pkg.tar.lz4",
}

// completePackageFiles completes package files (*.pkg.tar*) and
// directories, for add.
func completePackageFiles(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return packageFileExts, cobra.ShellCompDirectiveFilterFileExt
}

// withPrefix returns the sorted names that start with prefix and are not
// in exclude.
func withPrefix(names []string, prefix string, exclude []string) []cobra.Completion {
	skip := make(map[string]bool, len(exclude))
	for _, e := range exclude {
		skip[e] = true
	}
	out := make([]cobra.Completion, 0, len(names))
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !skip[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

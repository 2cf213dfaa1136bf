package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// repoctlHabit is a flag of repoctl that pacrepo has no flag of its own
// for. Given to pacrepo, it is accepted when it asks for what pacrepo
// always does, and refused naming what to use otherwise: never "unknown
// flag" without a word (README, "Coming from repoctl").
type repoctlHabit struct {
	command   string // the command's path, e.g. "pacrepo add"
	name      string
	shorthand string
	// refusal is the message for a flag given with value (a bool flag's
	// "true" or "false"); "" accepts it.
	refusal func(value string) string
}

func refusedAlways(why string) func(string) string {
	return func(string) string { return why }
}

var repoctlHabits = []repoctlHabit{
	{"pacrepo add", "no-verify", "", refusedAlways("pacrepo always verifies a package file completely before adding it")},
	{"pacrepo update", "require-signature", "r", refusedAlways("set require_signature = true in the profile (add -r requires it for the files it adds)")},
	{"pacrepo list", "registered", "r", func(string) string { return "" }}, // list shows registered packages anyway
	{"pacrepo down", "extract", "e", func(v string) string {
		if v == "false" {
			return "down always extracts the snapshot"
		}
		return ""
	}},
	{"pacrepo conf show", "template", "", refusedAlways("`pacrepo conf new FILE` writes the commented template")},
}

// addRepoctlHabits adds the hidden flags of repoctlHabits to the tree, and
// conf's -c/--config, which is the --config every command takes.
func addRepoctlHabits(root *cobra.Command, g *Globals) {
	for _, h := range repoctlHabits {
		cmd, _, err := root.Find(strings.Fields(h.command)[1:])
		if err != nil || cmd.CommandPath() != h.command {
			panic(fmt.Sprintf("repoctl habit of a command that does not exist: %s", h.command))
		}
		cmd.Flags().BoolP(h.name, h.shorthand, false, "repoctl's")
		cmd.Flags().Lookup(h.name).Hidden = true
		run, h := cmd.RunE, h
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if f := cmd.Flags().Lookup(h.name); f.Changed {
				if why := h.refusal(f.Value.String()); why != "" {
					given := "--" + h.name
					if f.Value.String() != "true" {
						given += "=" + f.Value.String()
					}
					return usage(fmt.Errorf("%s is repoctl's: %s", given, why))
				}
			}
			return run(cmd, args)
		}
	}
	if conf, _, err := root.Find([]string{"conf"}); err == nil {
		conf.PersistentFlags().StringVarP(&g.ConfigFile, "config", "c", "", "configuration file (repoctl's conf -c: the --config of every command)")
		conf.PersistentFlags().Lookup("config").Hidden = true
	}
	if edit, _, err := root.Find([]string{"conf", "edit"}); err == nil {
		var editor string
		edit.Flags().StringVarP(&editor, "editor", "e", "", "repoctl's")
		edit.Flags().Lookup("editor").Hidden = true
		run := edit.RunE
		edit.RunE = func(cmd *cobra.Command, args []string) error {
			if editor != "" {
				return usage(fmt.Errorf("--editor is repoctl's: set $VISUAL or $EDITOR instead (EDITOR=%s pacrepo conf edit)", editor))
			}
			return run(cmd, args)
		}
	}
}

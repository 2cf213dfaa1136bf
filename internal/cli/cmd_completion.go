package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newCompletionCommand) }

// newCompletionCommand replaces cobra's default completion command (cobra
// does not add its own when one named "completion" exists) to document
// the installation for each shell.
func newCompletionCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `Print the completion script for a shell. It completes commands, flags,
profile names (-P), package names registered in the repository (remove,
update, ...) and package files (add), reading the configuration and the
database when TAB is pressed.

bash (needs the bash-completion package):
  pacrepo completion bash > ~/.local/share/bash-completion/completions/pacrepo
  or system-wide: pacrepo completion bash > /usr/share/bash-completion/completions/pacrepo
  or for the current shell only: source <(pacrepo completion bash)

zsh:
  pacrepo completion zsh > "${fpath[1]}/_pacrepo"
  or system-wide: pacrepo completion zsh > /usr/share/zsh/site-functions/_pacrepo
  (compinit must be enabled: autoload -U compinit; compinit)

fish:
  pacrepo completion fish > ~/.config/fish/completions/pacrepo.fish
  or system-wide: pacrepo completion fish > /usr/share/fish/vendor_completions.d/pacrepo.fish

Start a new shell for the completion to take effect.`,
		Example: `  source <(pacrepo completion bash)
  pacrepo completion zsh > "${fpath[1]}/_pacrepo"
  pacrepo completion fish > ~/.config/fish/completions/pacrepo.fish`,
		ValidArgs: []cobra.Completion{"bash", "zsh", "fish"},
		// Not cobra.OnlyValidArgs: its 'invalid argument "tcsh"' does not
		// say which shells there are; RunE's message does.
		Args:                  cobra.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(g.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(g.Stdout)
			case "fish":
				return root.GenFishCompletion(g.Stdout, true)
			}
			return usage(fmt.Errorf("unsupported shell %q: use bash, zsh or fish", args[0]))
		},
	}
}

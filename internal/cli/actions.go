package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/pacrepo/pacrepo/internal/config"
)

// withActions runs the profile's pre_action before a mutating command and
// its post_action after it, as repoctl does. A failing pre_action stops the
// command; the post_action runs when the command did its work (also when
// some files were skipped). Dry runs run neither.
func (g *Globals) withActions(ctx context.Context, sel *profileSelection, command string, dryRun bool, body func() error) error {
	p := sel.Profile
	if dryRun {
		return body()
	}
	if p.PreAction != "" {
		env := config.ActionEnv("pre_action", command, sel.Name, p.Repo)
		if err := config.RunAction(ctx, p.PreAction, env, g.directStdout(), g.Stderr); err != nil {
			return err
		}
	}
	err := body()
	var skipped *skippedFilesError
	if p.PostAction != "" && (err == nil || errors.As(err, &skipped)) {
		env := config.ActionEnv("post_action", command, sel.Name, p.Repo)
		if perr := config.RunAction(ctx, p.PostAction, env, g.directStdout(), g.Stderr); perr != nil {
			if err != nil {
				fmt.Fprintf(g.Stderr, "pacrepo: %v\n", perr)
				return err
			}
			return perr
		}
	}
	return err
}

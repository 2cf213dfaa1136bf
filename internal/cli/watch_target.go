package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/inbox"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// watchTarget is where the watch of sel's repository r commits: r itself
// (update without an inbox, add -m from one), the debug packages to the
// profile's debug_repo (from an inbox only), each commit preceded by the
// finishing of an interrupted promotion from r or its debug repository.
func (g *Globals) watchTarget(cmd *cobra.Command, sel *profileSelection, r *repo.Repo, req repo.Request, fromInbox bool, o watchOptions, log *watchLog) (inbox.Target, error) {
	if dp := sel.Profile.DebugProfile(); dp != nil && config.IsObjectStorage(dp.Repo) {
		return nil, usage(fmt.Errorf("debug_repo %s: watch routes debug packages to a repository directory only, not to %s in object storage (add routes them there)",
			sel.Profile.DebugRepo, dp.Repo))
	}
	var debugRepo *repo.Repo
	if d, err := g.debugRepoOf(cmd, sel.Config, sel.Profile, debugSigning{databases: o.sign, key: o.key}); err != nil {
		return nil, err
	} else if d != nil {
		debugRepo = d.dir
	}
	var target inbox.Target = inbox.UpdateTarget{Repo: r, Request: req}
	switch {
	case fromInbox && debugRepo != nil:
		if err := ensureRepoDir(debugRepo, repo.Request{}); err != nil {
			return nil, err
		}
		debugOpts := debugRepo.Options()
		debugOpts.Progress = nil
		debugOpts.OnLockWait = log.lockWait
		debugReq := req
		debugReq.EmbedSignatures = o.includeSigs || sel.Profile.DebugProfile().AddOptions.IncludeSigs
		target = inbox.DebugRouteTarget{Main: inbox.AddTarget{Repo: r, Request: req},
			Debug: inbox.AddTarget{Repo: repo.New(debugOpts), Request: debugReq}}
	case fromInbox:
		target = inbox.AddTarget{Repo: r, Request: req}
	case debugRepo != nil:
		// Without an inbox, watch registers what the repository
		// directory holds, as update does: a debug package there would
		// be registered here, not routed.
		return nil, usage(fmt.Errorf("debug_repo %s routes uploads from an inbox: set inbox (or --inbox) for watch, or leave debug_repo out",
			sel.Profile.DebugRepo))
	}
	finish := func(ctx context.Context) error {
		for _, source := range []*repo.Repo{r, debugRepo} {
			if source == nil {
				continue
			}
			pending, err := source.PendingPromotion()
			if err != nil {
				return err
			}
			if pending == nil {
				continue
			}
			if err := g.finishPromotion(cmd, sel.Config, source); err != nil {
				return err
			}
			log.print(map[string]any{"event": "promotion-finished", "source": source.Options().DB.DBPath(), "target": pending.Target},
				fmt.Sprintf("finished an interrupted promotion from %s to %s", source.Options().DB.Name, pending.Target))
		}
		return nil
	}
	return promotionFinishingTarget{Target: target, finish: finish}, nil
}

// promotionFinishingTarget finishes an interrupted promotion from the
// watched repository before each commit, as every other change of a
// promotion's source does: a failure to finish fails the commit, which
// is retried.
type promotionFinishingTarget struct {
	inbox.Target
	finish func(context.Context) error
}

func (t promotionFinishingTarget) Commit(ctx context.Context, files []string) (inbox.Outcome, error) {
	if err := t.finish(ctx); err != nil {
		return inbox.Outcome{}, fmt.Errorf("finish an interrupted promotion: %w", err)
	}
	return t.Target.Commit(ctx, files)
}

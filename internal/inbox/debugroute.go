package inbox

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/repo"
)

// DebugRouteTarget moves uploads as AddTarget does, the debug packages
// (repo.IsDebugPackage) into Debug, everything else into Main: each by
// its repository's own rules, in its own transaction, the debug
// repository's first. An upload whose .PKGINFO cannot be read goes to
// Main, which reports it and tries it again as any. A late signature goes
// to the repository that registers its package.
type DebugRouteTarget struct {
	Main, Debug AddTarget
}

// Commit commits the debug packages, then the rest. A failure of the
// first fails the commit (nothing of the rest was tried); a failure of
// the second leaves its uploads waiting, retried, while the first's are
// in.
func (t DebugRouteTarget) Commit(ctx context.Context, files []string) (Outcome, error) {
	var pkgs, sigs []string
	for _, f := range files {
		if strings.HasSuffix(f, ".sig") {
			sigs = append(sigs, f)
		} else {
			pkgs = append(pkgs, f)
		}
	}
	route := repo.RouteDebugPackages(pkgs, true)
	toDebug, toMain := route.Debug, append(route.Rest, route.Unreadable...)
	if len(sigs) > 0 {
		registered := map[string]bool{}
		if entries, err := t.Debug.Repo.Entries(ctx); err == nil {
			for _, e := range entries {
				registered[e.Filename] = true
			}
		}
		for _, s := range sigs {
			if registered[strings.TrimSuffix(filepath.Base(s), ".sig")] {
				toDebug = append(toDebug, s)
			} else {
				toMain = append(toMain, s)
			}
		}
	}
	var out Outcome
	if len(toDebug) > 0 {
		var err error
		if out, err = t.Debug.Commit(ctx, toDebug); err != nil {
			return Outcome{}, err
		}
	}
	if len(toMain) == 0 {
		return out, nil
	}
	main, err := t.Main.Commit(ctx, toMain)
	if err != nil {
		if len(toDebug) == 0 {
			return Outcome{}, err // retried after a back-off
		}
		for _, f := range toMain {
			// The debug packages are in: this commit did not fail.
			out.Failed = append(out.Failed, Failure{Path: f, Reason: err.Error(), Retriable: true})
		}
		return out, nil
	}
	out.Written = out.Written || main.Written
	out.Added = append(out.Added, main.Added...)
	out.Retired = append(out.Retired, main.Retired...)
	out.Taken = append(out.Taken, main.Taken...)
	out.Failed = append(out.Failed, main.Failed...)
	return out, nil
}

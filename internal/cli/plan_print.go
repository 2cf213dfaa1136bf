package cli

import (
	"errors"
	"fmt"
	"github.com/pacrepo/pacrepo/internal/deps"
	"io"
	"sort"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/ui"
)

// packageStatus is one line of `status`: what the plan does to one name.
type packageStatus struct {
	Name    string       `json:"name"`
	Flags   []string     `json:"flags"`
	Actions []planAction `json:"actions"`
}

// planAction is the JSON form of a repo.Action.
type planAction struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	File   string `json:"file,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Where a retired file goes: move (to disposed_to), delete, keep
	// (in place, unregistered) or left (not retired after all).
	Disposal   string `json:"disposal,omitempty"`
	DisposedTo string `json:"disposed_to,omitempty"`
}

// problemJSON is the JSON form of a repo.Problem.
type problemJSON struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

func toPlanAction(a repo.Action) planAction {
	return planAction{Kind: string(a.Kind), Name: a.Name, File: a.File, From: a.From, To: a.To, Reason: a.Reason,
		Disposal: string(a.Disposal), DisposedTo: a.DisposedTo}
}

func problemsJSON(ps []repo.Problem) []problemJSON {
	out := make([]problemJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, problemJSON{Path: p.Path, Kind: problemKind(p), Reason: problemReason(p)})
	}
	return out
}

// problemKind names why a file could not be used; arguments refused for
// other reasons (a duplicate name, an unreadable signature) are "refused".
func problemKind(p repo.Problem) string {
	if p.Signature != 0 {
		return p.Signature.String()
	}
	if p.Kind == 0 {
		return "refused"
	}
	return p.Kind.String()
}

// problemReason is the cause of a problem without the path and kind that a
// package reader's error repeats.
func problemReason(p repo.Problem) string { return p.Reason() }

// summarise groups a plan's actions by package name, in repoctl's words:
// new(v), update(a->b), downgrade(a->b), refresh(v), removal, obsolete(n).
func summarise(plan *repo.Plan) []packageStatus {
	byName := map[string]*packageStatus{}
	var names []string
	obsolete := map[string]int{}
	for _, a := range plan.Actions {
		name := a.Name
		if a.Kind == repo.ActSign {
			name = a.File // the database's line
		}
		ps, ok := byName[name]
		if !ok {
			ps = &packageStatus{Name: name}
			byName[name] = ps
			names = append(names, name)
		}
		ps.Actions = append(ps.Actions, toPlanAction(a))
		switch a.Kind {
		case repo.ActNew:
			ps.Flags = append(ps.Flags, fmt.Sprintf("new(%s)", a.To))
		case repo.ActUpgrade:
			ps.Flags = append(ps.Flags, fmt.Sprintf("update(%s->%s)", a.From, a.To))
		case repo.ActDowngrade:
			ps.Flags = append(ps.Flags, fmt.Sprintf("downgrade(%s->%s)", a.From, a.To))
		case repo.ActRefresh:
			ps.Flags = append(ps.Flags, fmt.Sprintf("refresh(%s)", a.To))
		case repo.ActUnregister:
			ps.Flags = append(ps.Flags, "removal")
		case repo.ActRetire:
			obsolete[a.Name]++
		case repo.ActSign:
			ps.Flags = append(ps.Flags, "sign")
		}
	}
	sort.Strings(names)
	out := make([]packageStatus, 0, len(names))
	for _, n := range names {
		ps := byName[n]
		if c := obsolete[n]; c > 0 {
			ps.Flags = append(ps.Flags, fmt.Sprintf("obsolete(%d)", c))
		}
		if ps.Flags == nil {
			ps.Flags = []string{}
		}
		out = append(out, *ps)
	}
	return out
}

// describeAction is the line printed for one applied (or planned) action.
func describeAction(a repo.Action, dryRun bool) string {
	var verb string
	switch a.Kind {
	case repo.ActPlace:
		verb = "place " + a.File
	case repo.ActNew:
		verb = fmt.Sprintf("register %s %s", a.Name, a.To)
	case repo.ActUpgrade:
		verb = fmt.Sprintf("upgrade %s %s -> %s", a.Name, a.From, a.To)
	case repo.ActDowngrade:
		verb = fmt.Sprintf("downgrade %s %s -> %s", a.Name, a.From, a.To)
	case repo.ActRefresh:
		verb = fmt.Sprintf("refresh %s %s", a.Name, a.To)
	case repo.ActUnregister:
		verb = fmt.Sprintf("unregister %s %s", a.Name, a.From)
	case repo.ActRetire:
		verb = "retire " + a.File + disposalText(a, dryRun)
	case repo.ActSkip:
		verb = fmt.Sprintf("skip %s %s", a.Name, a.To)
	case repo.ActPrune:
		verb = "prune " + a.File + disposalText(a, dryRun)
	case repo.ActSign:
		verb = "sign " + a.File
	default:
		verb = fmt.Sprintf("%s %s", a.Kind, a.Name)
	}
	if dryRun {
		verb = "would " + verb
	}
	if a.Reason != "" {
		verb += " (" + a.Reason + ")"
	}
	return verb
}

// disposalText says where a retired file goes (dryRun) or went.
func disposalText(a repo.Action, dryRun bool) string {
	planned := map[repo.Disposal]string{repo.DisposalMove: "move to " + a.DisposedTo,
		repo.DisposalDelete: "delete", repo.DisposalKeep: "keep in place, unregistered"}
	done := map[repo.Disposal]string{repo.DisposalMove: "moved to " + a.DisposedTo,
		repo.DisposalDelete: "deleted", repo.DisposalKeep: "kept in place, unregistered",
		repo.DisposalLeft: "left in place"}
	text := done[a.Disposal]
	if dryRun {
		text = planned[a.Disposal]
	}
	if text == "" {
		return ""
	}
	return ": " + text
}

// printCreated says that the command made (or would make) a new
// repository, and how many packages it holds.
func printCreated(w io.Writer, res *repo.Result, db string, dryRun bool) {
	n := 0
	for _, a := range res.Plan.Actions {
		if a.Kind == repo.ActNew {
			n++
		}
	}
	verb := "created"
	if dryRun {
		verb = "would create"
	}
	fmt.Fprintf(w, "%s the repository %s with %s\n", verb, db, plural(n, "package"))
}

// printActions prints what a mutating command did or would do.
func printActions(w io.Writer, plan *repo.Plan, dryRun bool) {
	for _, a := range plan.Actions {
		fmt.Fprintln(w, describeAction(a, dryRun))
	}
	if len(plan.Actions) == 0 {
		fmt.Fprintln(w, "nothing to do")
	}
}

// reportProblems prints every unusable file with its reason to w and
// returns the error that gives the command its exit code: the work was
// done, but these files must be looked at (exit 1) or, when every one of
// them is still being written, retried later (exit 3).
func reportProblems(w io.Writer, problems []repo.Problem) error {
	if len(problems) == 0 {
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(w, "pacrepo: skipped %s: %s: %s\n", p.Path, problemKind(p), problemReason(p))
	}
	return &skippedFilesError{problems: problems}
}

// skippedFilesError ends a command that did its work but skipped files.
type skippedFilesError struct {
	problems []repo.Problem
}

func (e *skippedFilesError) Error() string {
	if problemsExitCode(e.problems) == ExitIncomplete {
		return fmt.Sprintf("%s still being written; nothing was decided from them (retry later)", plural(len(e.problems), "file"))
	}
	return fmt.Sprintf("%s could not be used; nothing was decided from them", plural(len(e.problems), "file"))
}

// nothingAddedError ends an add refused because of files it could not use;
// the files are named with their reasons before it.
type nothingAddedError struct{ *repo.UnreadableFilesError }

func (e *nothingAddedError) Error() string { return "nothing added" }
func (e *nothingAddedError) Unwrap() error { return e.UnreadableFilesError }

// commandError is what a changing command returns for the repository's
// error err: an add refused for its files says only "nothing added", as
// the files were named already.
func commandError(err error) error {
	var unreadable *repo.UnreadableFilesError
	if errors.As(err, &unreadable) {
		return &nothingAddedError{unreadable}
	}
	return err
}

// changeJSON is the --json form of what a changing command did or would do.
type changeJSON struct {
	Repo      string        `json:"repo"`
	Database  string        `json:"database"`
	DryRun    bool          `json:"dry_run"`
	Applied   bool          `json:"applied"`
	Created   bool          `json:"created"`
	Recovered string        `json:"recovered,omitempty"`
	Actions   []planAction  `json:"actions"`
	Problems  []problemJSON `json:"problems"`
	// Unsatisfiable are the needs the change left unmet (installable =
	// "warn"), or those that refused it ("refuse").
	Unsatisfiable []deps.Problem `json:"unsatisfiable,omitempty"`
	Error         string         `json:"error,omitempty"`
}

// reportResult prints what a mutating command did (or would do) and turns
// its outcome into the command's error: a failure after the database write
// still prints what was applied, and skipped files give exit code 3 or 1.
// dbAddress names a repository's database in what a change prints: its
// path, or its s3:// address.
type dbAddress struct{ name, path string }

func localAddress(loc repodb.Location) dbAddress { return dbAddress{loc.Name, loc.DBPath()} }

func (g *Globals) reportResult(res *repo.Result, err error, db dbAddress, dryRun, asJSON bool) error {
	var printed *reportedError
	if errors.As(err, &printed) {
		return err // reported by the command: only its exit code is left
	}
	var problems []repo.Problem
	var unreadable *repo.UnreadableFilesError
	switch {
	case errors.As(err, &unreadable):
		problems = unreadable.Problems
	case res != nil && res.Plan != nil:
		problems = res.Plan.Problems
	}
	if asJSON {
		out := changeJSON{Repo: db.name, Database: db.path, DryRun: dryRun, Actions: []planAction{}, Problems: problemsJSON(problems)}
		var refused *repo.UnsatisfiableError
		if errors.As(err, &refused) {
			out.Unsatisfiable = refused.Problems
		}
		if res != nil {
			out.Applied, out.Created, out.Recovered = res.Applied, res.Created, res.Recovered
			if res.Unsatisfiable != nil {
				out.Unsatisfiable = res.Unsatisfiable
			}
			if res.Plan != nil && (err == nil || res.Applied) {
				for _, a := range res.Plan.Actions {
					out.Actions = append(out.Actions, toPlanAction(a))
				}
			}
		}
		if err != nil {
			out.Error = err.Error()
		}
		if werr := ui.WriteJSON(g.Stdout, out); werr != nil {
			return werr
		}
		if err != nil {
			return commandError(err)
		}
		if len(problems) > 0 {
			return &skippedFilesError{problems: problems}
		}
		return nil
	}
	if res != nil {
		if res.Recovered != "" {
			fmt.Fprintf(g.Stderr, "pacrepo: %s\n", res.Recovered)
		}
		if res.IgnoredDB != nil {
			fmt.Fprintf(g.Stderr, "pacrepo: ignored the unreadable database and rebuilt it from the directory: %v\n", res.IgnoredDB)
		}
		for _, p := range res.Unsatisfiable {
			fmt.Fprintf(g.Stderr, "pacrepo: warning: after this change %s\n", p)
		}
		if res.Plan != nil && (!g.output().Quiet || dryRun) && (err == nil || res.Applied) {
			if !res.Created || len(res.Plan.Actions) > 0 {
				printActions(g.Stdout, res.Plan, dryRun)
			}
			if res.Created {
				printCreated(g.Stdout, res, db.path, dryRun)
			}
		}
	}
	perr := reportProblems(g.Stderr, problems)
	if err != nil {
		return commandError(err)
	}
	return perr
}

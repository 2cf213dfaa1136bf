package inbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// AddTarget moves uploads from an inbox into a repository: add -m, with
// its journal and crash safety, partial (what can be added is), and never
// a downgrade (a late upload of an older version is refused).
type AddTarget struct {
	Repo    *repo.Repo
	Request repo.Request
}

// Commit adds files in one database write; the .sig files among them
// (signatures whose packages are not in the inbox) are attached to the
// registered packages they belong to.
func (t AddTarget) Commit(ctx context.Context, files []string) (Outcome, error) {
	var pkgs, sigs []string
	for _, f := range files {
		if strings.HasSuffix(f, ".sig") {
			sigs = append(sigs, f)
		} else {
			pkgs = append(pkgs, f)
		}
	}
	var out Outcome
	if len(pkgs) > 0 {
		var err error
		if out, err = t.add(ctx, pkgs); err != nil {
			return Outcome{}, err
		}
	}
	if len(sigs) > 0 {
		att, err := t.attach(ctx, sigs)
		if err != nil && len(pkgs) == 0 {
			return Outcome{}, err // retried after a back-off
		}
		for _, sig := range sigs {
			if err != nil {
				// The packages are in: this commit did not fail.
				att.Failed = append(att.Failed, Failure{Path: sig, Reason: err.Error(), Retriable: true})
			}
		}
		out.Written = out.Written || att.Written
		out.Added = append(out.Added, att.Added...)
		out.Taken = append(out.Taken, att.Taken...)
		out.Failed = append(out.Failed, att.Failed...)
	}
	return out, nil
}

// attach brings late signatures in beside their registered packages and
// removes each attached one from the inbox.
func (t AddTarget) attach(ctx context.Context, sigs []string) (Outcome, error) {
	att, res, err := t.Repo.AttachSignatures(ctx, sigs, t.Request)
	var out Outcome
	if res != nil {
		out = outcomeOf(res)
	}
	if err != nil {
		// Nothing attached, or the entries not refreshed: tried again, an
		// attached signature is found in place and refreshed then.
		return out, err
	}
	for _, a := range att {
		if a.Problem != nil {
			out.Failed = append(out.Failed, Failure{Path: a.Path, Reason: problemReason(*a.Problem), Retriable: a.Problem.Retriable(), Refused: a.Refused})
			continue
		}
		if err := os.Remove(a.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			out.Failed = append(out.Failed, Failure{Path: a.Path, Reason: fmt.Sprintf("attached, but not removed from the inbox: %v", err)})
			continue
		}
		out.Taken = append(out.Taken, a.Path)
	}
	return out, nil
}

// add adds package files in one database write.
func (t AddTarget) add(ctx context.Context, files []string) (Outcome, error) {
	res, err := t.Repo.Add(ctx, files, repo.AddOptions{Request: t.Request, Mode: repo.Move, Partial: true, PreventDowngrade: true, Uploads: true})
	var unmet *repo.UnsatisfiableError
	if errors.As(err, &unmet) {
		// installable = "refuse": the uploads wait, and are tried again
		// with what arrives meanwhile (a library and the rebuilds of what
		// links against it land in one commit), until rejected as late.
		var out Outcome
		for _, f := range files {
			out.Failed = append(out.Failed, Failure{Path: f, Reason: err.Error(), Retriable: true})
		}
		return out, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	out := outcomeOf(res)
	given := setOf(files)
	accounted := map[string]bool{}
	for _, a := range res.Plan.Actions {
		switch a.Kind {
		case repo.ActPlace:
			if res.Applied {
				out.Taken = append(out.Taken, a.File)
				accounted[a.File] = true
			}
		case repo.ActSkip:
			reason := strings.TrimSuffix(a.Reason, " (--prevent-downgrade)")
			out.Failed = append(out.Failed, Failure{Path: a.File, Reason: reason, Refused: true})
			accounted[a.File] = true
		}
	}
	for _, p := range res.Plan.Problems {
		path := strings.TrimSuffix(p.Path, ".sig")
		if !given[path] || accounted[path] {
			continue // a file of the repository itself: check's business
		}
		var collision *repo.CollisionError
		var notRegular *repo.NotRegularError
		out.Failed = append(out.Failed, Failure{Path: path, Reason: problemReason(p), Retriable: p.Retriable(),
			Refused: errors.As(p.Err, &collision) || errors.As(p.Err, &notRegular)})
		accounted[path] = true
	}
	for _, f := range files {
		if !accounted[f] && gone(f) {
			// Registered without being placed, and gone: the recovery this
			// add began with finished the move of a watch killed after
			// its commit, removing the upload. It is in the repository.
			out.Taken = append(out.Taken, f)
			accounted[f] = true
		}
		if !accounted[f] {
			// Registered without being placed: the repository holds this
			// very file already. It is not the inbox's to delete.
			out.Failed = append(out.Failed, Failure{Path: f, Reason: "the repository holds this very file already", Refused: true})
		}
	}
	return out, nil
}

// UpdateTarget registers what the repository directory itself received:
// update, which reads every new file completely before it counts.
type UpdateTarget struct {
	Repo    *repo.Repo
	Request repo.Request
}

// Commit runs update; files are the uploads that completed, and update
// accounts for every one of them.
func (t UpdateTarget) Commit(ctx context.Context, files []string) (Outcome, error) {
	res, err := t.Repo.Update(ctx, nil, t.Request)
	if err != nil {
		return Outcome{}, err
	}
	out := outcomeOf(res)
	given := setOf(files)
	failed := map[string]bool{}
	for _, p := range res.Plan.Problems {
		path := strings.TrimSuffix(p.Path, ".sig")
		if !given[path] {
			continue // still settling: it is looked at once it has
		}
		out.Failed = append(out.Failed, Failure{Path: path, Reason: problemReason(p), Retriable: p.Retriable()})
		failed[path] = true
	}
	for _, f := range files {
		if !failed[f] {
			out.Taken = append(out.Taken, f)
		}
	}
	return out, nil
}

// gone tells whether nothing is at path any more.
func gone(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

func setOf(files []string) map[string]bool {
	set := make(map[string]bool, len(files))
	for _, f := range files {
		set[f] = true
	}
	return set
}

func outcomeOf(res *repo.Result) Outcome {
	out := Outcome{Written: res.Applied}
	if !res.Applied {
		return out
	}
	for _, a := range res.Plan.Actions {
		switch a.Kind {
		case repo.ActNew, repo.ActUpgrade, repo.ActDowngrade, repo.ActRefresh:
			out.Added = append(out.Added, a.Name+" "+a.To)
		case repo.ActRetire:
			if a.Disposal != repo.DisposalLeft {
				out.Retired = append(out.Retired, filepath.Base(a.File))
			}
		}
	}
	return out
}

// problemReason says why p's file could not be used, without repeating
// the file's path (the event names it).
func problemReason(p repo.Problem) string {
	err := p.Err
	var pe *pkgfile.Error
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var notRegular *repo.NotRegularError
	switch {
	case errors.As(err, &notRegular):
		return notRegular.Error()
	case p.Signature != 0:
		return fmt.Sprintf("signature %s: %v", p.Signature, err)
	case p.Kind != 0:
		return fmt.Sprintf("%s: %v", p.Kind, err)
	}
	return err.Error()
}

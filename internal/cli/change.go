package cli

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// changeFlags are the flags of every command that changes the repository.
type changeFlags struct {
	dryRun      bool
	force       bool
	includeSigs bool
	json        bool
	sign        bool   // -s: sign the databases
	key         string // -k: with this key
	verify      bool   // -v/--verify: the current database's signature first
	unsign      bool   // --unsign-db: write a signed database unsigned
	waitForLock bool   // -w: repo-add's; pacrepo always waits for the lock
	// dashNIsRepoAdds: -n, which is --dry-run, is repo-add's --new for this
	// command (add); dashN says it was typed, so that a note can say so.
	dashNIsRepoAdds bool
	dashN           bool
}

func (f *changeFlags) register(cmd *cobra.Command, forceHelp string) {
	fl := cmd.Flags()
	if f.dashNIsRepoAdds {
		// -n is a flag of its own, so that the command knows it was typed.
		fl.BoolVar(&f.dryRun, "dry-run", false, "show what would be done, change nothing (-n too, unlike repo-add's -n: that is --new)")
		fl.BoolVarP(&f.dashN, "dry-run-n", "n", false, "-n: --dry-run")
		fl.Lookup("dry-run-n").Hidden = true
	} else {
		fl.BoolVarP(&f.dryRun, "dry-run", "n", false, "show what would be done, change nothing")
	}
	if forceHelp != "" {
		fl.BoolVar(&f.force, "force", false, forceHelp)
	}
	fl.BoolVar(&f.includeSigs, "include-sigs", false, "write each package's signature into the database (%PGPSIG%), like repo-add --include-sigs")
	fl.BoolVar(&f.json, "json", false, "print what was done (or would be) as JSON")
	fl.BoolVarP(&f.sign, "sign", "s", false, "sign the databases (like repo-add -s; also sign_db in the profile)")
	fl.StringVarP(&f.key, "key", "k", "", "sign with this key (fingerprint or key ID; default: the profile's sign_key)")
	fl.BoolVar(&f.unsign, "unsign-db", false, "write the databases unsigned though they are signed now, dropping their signatures (without sign_db or -s, a change of a signed database is refused)")
	fl.BoolVarP(&f.verify, "verify", "v", false, "verify the database's signature against the keyring before changing it (like repo-add -v)")
	fl.BoolVarP(&f.waitForLock, "wait-for-lock", "w", false, "accepted for repo-add's -w: pacrepo always waits for the lock, up to lock_timeout")
}

// errNotConfirmed ends an interactive command whose plan was declined.
var errNotConfirmed = errors.New("not confirmed: nothing was changed")

// changeFunc makes one change to r, as req asks.
type changeFunc func(r *repo.Repo, req repo.Request) (*repo.Result, error)

// runChange runs one command that changes the repository: it builds the
// repository from the profile (tune adjusts its options), the request from
// the flags, asks for confirmation when the profile is interactive, runs
// the profile's pre_action and post_action around the change, and reports
// the result.
//
// A repository in object storage takes objectApply instead (nil: the
// command works on directories only).
func (g *Globals) runChange(cmd *cobra.Command, name string, f changeFlags, tune func(*repo.Options, *config.Profile) error, apply changeFunc,
	objectApply *objectChange) error {
	sel, err := g.currentProfile(cmd)
	if err != nil {
		return err
	}
	f = f.withProfile(name, sel.Profile)
	if isObjectStorage(sel) {
		if objectApply == nil {
			return errNotForObjectStorage(cmd, sel.Profile.Repo)
		}
		if objectApply.check != nil {
			if err := objectApply.check(f); err != nil {
				return err
			}
		}
		return g.runObjectChange(cmd, sel, name, f, objectApply.apply)
	}
	opts, err := g.repoOptionsFor(cmd, sel)
	if err != nil {
		return err
	}
	defer sel.UI.Finish()
	if f.sign || sel.Profile.SignsDatabases() {
		if opts.DatabaseSigner, err = signer(sel.Profile, f.key); err != nil {
			return err
		}
	}
	if tune != nil {
		if err := tune(&opts, sel.Profile); err != nil {
			return err
		}
	}
	r := repo.New(opts)
	req := repo.Request{DryRun: f.dryRun, Force: f.force, EmbedSignatures: f.includeSigs,
		VerifyDatabase: f.verify, UnsignDatabase: f.unsign}
	// Everything runs after pre_action, which may mount the repository.
	return g.withActions(cmd.Context(), sel, name, f.dryRun, func() error {
		if !f.dryRun {
			if err := g.finishPromotions(cmd, sel, r.PromotionStore()); err != nil {
				return err
			}
		}
		if sel.Profile.Interactive && !f.dryRun {
			if err := g.confirmPlan(sel, r, req, apply); err != nil {
				return err
			}
		}
		res, err := apply(r, req)
		sel.UI.Finish()
		return g.reportResult(res, err, localAddress(opts.DB), f.dryRun, f.json)
	})
}

// repoToolParams are the options repoctl passed to repo-add and
// repo-remove for the command: add_params for add, reset and watch (which
// repoctl did with repo-add), rm_params for remove, both for update (which
// adds and removes); none for the commands that change nothing.
func repoToolParams(command string, p *config.Profile) config.RepoAddParams {
	switch command {
	case "remove":
		return p.RmOptions
	case "update":
		a, r := p.AddOptions, p.RmOptions
		return config.RepoAddParams{New: a.New, PreventDowngrade: a.PreventDowngrade, IncludeSigs: a.IncludeSigs,
			Sign: a.Sign || r.Sign, Key: cmp.Or(a.Key, r.Key), Verify: a.Verify || r.Verify,
			Quiet: a.Quiet || r.Quiet, NoColor: a.NoColor || r.NoColor}
	case "add", "reset", "watch":
		return p.AddOptions
	}
	return config.RepoAddParams{}
}

// withProfile is f with what the profile asks on top of the flags: the
// repo-add options repoctl passed for the command (add_params, rm_params)
// mean what repo-add's -v and --include-sigs mean.
func (f changeFlags) withProfile(command string, p *config.Profile) changeFlags {
	params := repoToolParams(command, p)
	f.verify = f.verify || params.Verify
	f.includeSigs = f.includeSigs || params.IncludeSigs
	return f
}

// ensureRepoDir creates the repository's directory for the commands that
// may be a repository's first (add, reset); a dry run creates nothing.
func ensureRepoDir(r *repo.Repo, req repo.Request) error {
	if req.DryRun {
		return nil
	}
	if err := os.MkdirAll(r.Options().DB.Dir, 0o755); err != nil {
		return fmt.Errorf("create repository directory: %w", err)
	}
	return nil
}

// confirmPlan shows what apply would do and asks whether to go on. An
// empty plan needs no question.
func (g *Globals) confirmPlan(sel *profileSelection, r *repo.Repo, req repo.Request, apply changeFunc) error {
	preview := req
	preview.DryRun = true
	res, err := apply(r, preview)
	sel.UI.Finish()
	if err != nil {
		return g.reportResult(res, err, localAddress(r.Options().DB), true, false)
	}
	if len(res.Plan.Actions) == 0 {
		return nil
	}
	printActions(g.Stdout, res.Plan, true)
	ok, err := confirm(g.Stdin, g.Stdout, "Proceed?")
	if err != nil {
		return err
	}
	if !ok {
		return errNotConfirmed
	}
	return nil
}

// confirm asks a yes/no question, yes by default. No answer at all (end of
// input) is no: nothing changes that nobody agreed to.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [Y/n] ", question)
	flushStdout(out)
	if in == nil {
		fmt.Fprintln(out)
		return false, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		fmt.Fprintln(out)
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("read answer: %w", err)
	}
	if !isTerminal(in) {
		// A terminal echoed the answer and its newline; a pipe did not.
		fmt.Fprintln(out)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true, nil
	}
	return false, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

package cli

import (
	"context"
	"errors"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/s3repo"
)

// Exit codes. They are documented in the README and in `pacrepo --help`;
// build farms rely on them, so never renumber. exitCode is the one place
// that maps an error to one of them.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // the command failed; nothing was changed unless it says so
	ExitUsage       = 2   // bad flags or arguments
	ExitIncomplete  = 3   // the rest was done, but some files are still being written, or the AUR was out of reach: retry later
	ExitLocked      = 4   // the repository lock could not be taken within the timeout
	ExitProblems    = 5   // check found problems (or a plan was refused without --force)
	ExitInterrupted = 130 // SIGINT or SIGTERM, as shells report a death by SIGINT
)

// exitCodesPointer ends the help of every subcommand.
const exitCodesPointer = "Exit codes: see `pacrepo --help` or pacrepo(1)."

// exitCodesHelp ends the help of pacrepo itself, and so pacrepo(1).
const exitCodesHelp = `Exit codes:
  0    success
  1    failure (nothing was changed unless the message says so), or files that
       are not usable packages (corrupt, not a package, unreadable) were skipped
  2    bad flags or arguments
  3    done, but some files are still being written, or the AUR could not
       be reached (list -o, status -a): retry later
  4    the repository lock could not be taken within the timeout
  5    check found problems, or a plan was refused without --force
  130  interrupted (SIGINT, SIGTERM): the repository is as before the command,
       or as after it when it had already committed`

// UsageError is a wrong flag or argument: exit 2. Every usage error is
// typed, cobra's included (see typeUsageErrors), because its text cannot
// tell: "invalid argument" is also the kernel's EINVAL, which is a failure.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usage marks err as a wrong flag or argument.
func usage(err error) error { return &UsageError{err} }

// problemsFoundError ends a check that found problems it printed: exit 5.
type problemsFoundError struct{ remaining int }

func (e *problemsFoundError) Error() string {
	return plural(e.remaining, "problem") + " remain"
}

// reportedError carries an error whose message the command has printed
// already (in its own words or as JSON): only its exit code is left.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// reported marks err as printed already.
func reported(err error) error { return &reportedError{err} }

// exitCode is the process's exit code for the error a command returned.
func exitCode(err error) int {
	var (
		lockErr    *repo.LockTimeoutError
		refused    *repo.RefusedError
		unreadable *repo.UnreadableFilesError
		skipped    *skippedFilesError
		found      *problemsFoundError
		aurDown    *aurUnavailableError
		overtaken  *s3repo.GCOvertakenError
		unmet      *repo.UnsatisfiableError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case isUsageError(err):
		return ExitUsage
	case errors.As(err, &lockErr):
		return ExitLocked
	case errors.As(err, &refused), errors.As(err, &found), errors.As(err, &unmet):
		return ExitProblems
	case errors.As(err, &aurDown), errors.As(err, &overtaken):
		return ExitIncomplete
	case errors.As(err, &skipped):
		return problemsExitCode(skipped.problems)
	case errors.As(err, &unreadable):
		return problemsExitCode(unreadable.Problems)
	}
	return ExitFailure
}

// isUsageError recognises wrong flags and arguments: a UsageError, and the
// configuration's "no such file or profile".
func isUsageError(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue) || errors.Is(err, config.ErrNotFound) || errors.Is(err, config.ErrNoProfile) ||
		errors.Is(err, config.ErrUnknownProfile)
}

// problemsExitCode is the exit code of a command that skipped these files:
// 3 ("retry later") only when waiting can mend every one of them, that is
// when each is still being written (or waits for its signature); anything
// else (corrupt, not a package, unreadable, refused) needs a person: 1. A
// build farm retrying on 3 must never loop forever.
func problemsExitCode(problems []repo.Problem) int {
	for _, p := range problems {
		if !p.Retriable() {
			return ExitFailure
		}
	}
	return ExitIncomplete
}

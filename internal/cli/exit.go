package cli

import (
	"errors"
	"fmt"

	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repo"
)

// Exit codes. They are documented in the README and in `pacrepo --help`;
// build farms rely on them, so never renumber.
const (
	ExitOK         = 0 // success
	ExitFailure    = 1 // the command failed; nothing was changed unless it says so
	ExitUsage      = 2 // bad flags or arguments
	ExitIncomplete = 3 // the rest was done, but some files are still being written: retry later
	ExitLocked     = 4 // the repository lock could not be taken within the timeout
	ExitProblems   = 5 // check found problems (or a plan was refused without --force)
)

// exitCodesHelp ends the help of every command.
const exitCodesHelp = `Exit codes:
  0  success
  1  failure (nothing was changed unless the message says so), or files that
     are not usable packages (corrupt, not a package, unreadable) were skipped
  2  bad flags or arguments
  3  done, but some files are still being written: retry later
  4  the repository lock could not be taken within the timeout
  5  check found problems, or a plan was refused without --force`

// exitError carries an exit code through cobra to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withExit wraps err so that Main exits with code. A nil err with a non-zero
// code means the command already reported its problems.
func withExit(code int, err error) error {
	return &exitError{code: code, err: err}
}

func exitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitFailure
}

// problemsExitCode is the exit code of a command that skipped these files:
// 3 ("retry later") only when waiting can mend every one of them, that is
// when each is still being written (or waits for its signature); anything
// else (corrupt, not a package, unreadable, refused) needs a person: 1. A
// build farm retrying on 3 must never loop forever.
func problemsExitCode(problems []repo.Problem) int {
	for _, p := range problems {
		if p.Kind != pkgfile.Incomplete {
			return ExitFailure
		}
	}
	return ExitIncomplete
}

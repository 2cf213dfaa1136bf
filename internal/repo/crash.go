package repo

import (
	"os"
	"syscall"
)

// CrashEnv names the test-only environment variable that kills the process
// (SIGKILL, no deferred code runs) at one named step of a transaction. The
// steps, in the order a transaction passes them:
//
//	mid-lock              repo-add's .lck is written under a temporary name, not yet linked
//	after-lock            the lock is held, nothing read yet
//	after-journal         the journal is on disk, nothing placed
//	mid-place             the first new file is complete under its temporary name
//	mid-place-sig         the first new file's .sig is in place, the file not yet
//	after-place           every new file is in place under its final name
//	after-db              the new databases are on disk
//	mid-retire            the first old file has been retired
//	before-journal-clear  every step is done, the journal still exists
//	mid-recover           recovery has read the journal, before acting on it
const CrashEnv = "PACREPO_CRASH_AT"

// CrashPoints lists every step name CrashEnv accepts.
var CrashPoints = []string{"mid-lock", "after-lock", "after-journal", "mid-place", "mid-place-sig", "after-place",
	"after-db", "mid-retire", "before-journal-clear", "mid-recover"}

var crashAt = os.Getenv(CrashEnv)

func crashPoint(step string) {
	if crashAt != "" && crashAt == step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}

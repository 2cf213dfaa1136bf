package repo

import (
	"os"
	"syscall"
)

// CrashEnv names the environment variable that makes the test binary, run
// as a helper process (helper_process_test.go), kill itself with SIGKILL
// (no deferred code runs) at one named step of crash.go.
const CrashEnv = "PACREPO_CRASH_AT"

// CrashPoints lists every step name CrashEnv accepts.
var CrashPoints = []string{"mid-lock", "after-lock", "after-journal", "mid-place", "mid-place-sig", "after-place",
	"after-links", "after-history-db", "after-db", "mid-retire", "before-record", "before-journal-clear", "mid-recover"}

// crashAtEnv sets the crash hook from CrashEnv; helper processes call it.
func crashAtEnv() {
	at := os.Getenv(CrashEnv)
	if at == "" {
		return
	}
	crashHook = func(step string) {
		if step == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns
		}
	}
}

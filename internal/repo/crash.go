package repo

// crashHook, when a test sets it, runs at each named step of a transaction
// (crashPoint): the crash tests kill the process there. The steps, in the
// order a transaction passes them:
//
//	mid-lock              repo-add's .lck is written under a temporary name, not yet linked
//	after-lock            the lock is held, nothing read yet
//	after-journal         the journal is on disk, nothing placed
//	mid-place             the first new file is complete under its temporary name
//	mid-place-sig         the first new file's .sig is in place, the file not yet
//	after-place           every new file is in place under its final name
//	after-links           the new links database is on disk, the databases not yet
//	after-history-db      the new databases are linked into the history, not yet in place
//	after-db              the new databases are on disk
//	mid-retire            the first old file has been retired
//	before-record         retired and pruned, the generation's record not yet written
//	before-journal-clear  every step is done, the journal still exists
//	mid-recover           recovery has read the journal, before acting on it
//
// A promotion (promote.go) passes its own, around the two transactions it
// makes (the target's registration, then the source's unregistration),
// through its source's store (PromotionStore.Step: here from a directory,
// s3repo's hook from a bucket):
//
//	promote-intent        the intent is on disk, neither repository changed
//	promote-debug-intent  with debug packages moved along (debugroute.go): both
//	                      intents are on disk, nothing changed
//	promote-registered    the target registers the files, the source still does
//	promote-unregistered  the source unregistered them, the intent still exists
//
// The shipped program never sets it: nothing outside a test can make it
// stop at a step.
var crashHook func(step string)

// SetCrashHook sets the crash hook (nil: none) for the kill tests of
// another package: s3repo's helper process kills a promotion from a
// directory at the steps it passes here. The shipped program never calls
// it.
func SetCrashHook(hook func(step string)) { crashHook = hook }

func crashPoint(step string) {
	if crashHook != nil {
		crashHook(step)
	}
}

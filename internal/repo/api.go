package repo

import (
	"errors"
	"fmt"
	"github.com/pacrepo/pacrepo/internal/deps"
	"io/fs"
	"strings"
	"time"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// Options configure a repository. The command layer fills them from the
// configuration profile and the flags.
type Options struct {
	DB            repodb.Location
	BackupDir     string // absolute; "" means retired files are deleted (unless RetireInPlace)
	RetireInPlace bool   // retired files are unregistered but left where they are (repoctl's backup with backup_dir "" or ".")
	KeepBackups   int    // backups kept per package name; 0 keeps all
	// Retention says which generations stay restorable and how long a
	// retired file no retained generation references stays (prune.go).
	// The zero value retains the newest generation alone, with no grace
	// period: without a backup directory, retired files are deleted at once.
	Retention history.Retention
	// Now is the retention's clock (nil: time.Now).
	Now              func() time.Time
	LockTimeout      time.Duration // how long to wait for the lock; 0 means fail at once
	IgnorePatterns   []string      // extra shell patterns of file names to ignore
	RequireSignature bool          // refuse package files without a .sig
	// Keyring verifies every package signature before the package counts;
	// nil checks only that a signature is well formed.
	Keyring *signature.Keyring
	// PackageSigner signs the packages add places without a .sig (nil:
	// they stay unsigned).
	PackageSigner signature.Signer
	// DatabaseSigner signs the databases with every write (nil: unsigned).
	DatabaseSigner signature.Signer
	Progress       func(done, total int)
	// Command is the command as typed, its secrets left out, for the
	// history ("" records the operation's name).
	Command string
	// OnLockWait is called once when a command has to wait for the lock.
	OnLockWait func(LockWait)
	// Installable is what a change does that leaves a package
	// unsatisfiable (a dependency nothing meets, a needed library no
	// longer provided): "" or "off" nothing, "warn" report it
	// (Result.Unsatisfiable), "refuse" refuse the change
	// (UnsatisfiableError).
	Installable string
	// Upstream are the paths of the sync databases whose packages satisfy
	// dependencies too.
	Upstream []string
}

// LockWait says who holds the lock a command waits for.
type LockWait struct {
	Path    string        // the lock file
	Holder  string        // who holds it, as far as can be told
	Timeout time.Duration // how long the command waits at most
}

// Request is what one change is asked, beyond its arguments. Options are
// the repository's; a Request is one command's.
type Request struct {
	DryRun bool // plan and report; change nothing and take no lock
	Force  bool // allow a plan that retires or unregisters most of the repository
	// EmbedSignatures writes the %PGPSIG% of each entry the command
	// registers or refreshes, and refreshes entries whose .sig changed
	// (repo-add's --include-sigs). Unchanged entries keep theirs.
	EmbedSignatures bool
	// VerifyDatabase verifies the current database's signature against
	// the keyring before changing it (repo-add's --verify).
	VerifyDatabase bool
	// UnsignDatabase writes the databases without their signatures when
	// they were signed and no DatabaseSigner is set; without it, such a
	// change is refused (UnsignedDatabaseError).
	UnsignDatabase bool
}

// AddOptions are the choices of one add.
type AddOptions struct {
	Request
	Mode AddMode
	// OnlyNew leaves out files of names that are registered already
	// (repo-add's --new).
	OnlyNew bool
	// PreventDowngrade leaves out files older than the registered version
	// (repo-add's --prevent-downgrade).
	PreventDowngrade bool
	// Partial adds what can be added: a file that cannot be used (or
	// collides with a different file in the repository) is one of the
	// plan's Problems instead of refusing the whole add, and of two files
	// of one name only the newer is added (the other is a skip action).
	// The watch command adds its inbox so.
	Partial bool
	// Uploads says the files are others' uploads (the watch command's
	// inbox): a file or .sig that is a symbolic link or not a regular file
	// is refused, never followed nor opened, and one that is replaced by
	// anything else while it is read is incomplete. Whoever may write the
	// inbox must not make add read a file only its runner may read.
	Uploads bool
}

// AddMode says how add brings a file into the repository directory.
type AddMode int

const (
	Copy AddMode = iota
	Move
	Link // symbolic link
)

// ActionKind names one step of a plan.
type ActionKind string

const (
	ActPlace      ActionKind = "place"      // bring an outside file into the directory
	ActNew        ActionKind = "new"        // register a name that was not registered
	ActUpgrade    ActionKind = "upgrade"    // register a newer file of a registered name
	ActDowngrade  ActionKind = "downgrade"  // register an older file (explicit add only)
	ActRefresh    ActionKind = "refresh"    // same version, but the entry no longer matches its file
	ActUnregister ActionKind = "unregister" // drop an entry (removed, or its file is gone)
	ActRetire     ActionKind = "retire"     // move a file to the backup directory or delete it
	ActSkip       ActionKind = "skip"       // leave an argument of add out (repo-add's --new, --prevent-downgrade)
	ActPrune      ActionKind = "prune"      // delete a retired file beyond KeepBackups (applied results only)
	ActSign       ActionKind = "sign"       // write the databases signed, though no entry changes (repo-add's -s)
)

// Action is one step of a plan with the reason it is taken.
type Action struct {
	Kind   ActionKind
	Name   string // package name
	File   string // base name of the file concerned (source path for ActPlace, backup path for a pruned backup)
	From   string // version before (upgrade, downgrade, unregister, retire)
	To     string // version after (new, upgrade, downgrade, refresh)
	Reason string

	// Disposal says what retiring File does (in a plan) or did (in an
	// applied result); DisposedTo is the backup directory (planned) or the
	// file's new path (done) when it is moved.
	Disposal   Disposal
	DisposedTo string
}

// Disposal is what happens to a retired file.
type Disposal string

const (
	DisposalMove   Disposal = "move"   // moved to the backup directory
	DisposalDelete Disposal = "delete" // deleted
	DisposalKeep   Disposal = "keep"   // left in the directory, unregistered (keep-in-place)
	DisposalLeft   Disposal = "left"   // not retired after all: it changed, or retiring failed (the error says why)
)

// Problem is a file that could not be used; it is never evidence for
// anything, and the command that met it exits with ExitIncomplete.
type Problem struct {
	Path string
	Kind pkgfile.ErrorKind // why a package file cannot be used (0: see Signature)
	// Signature is why the package's signature does not vouch for it
	// (missing, malformed, bad, unknown key, expired, revoked); 0 when the
	// problem is not the signature's.
	Signature signature.Kind
	Err       error
}

// Retriable tells whether waiting may mend the problem: a file still being
// written, or a signature still to come.
func (p Problem) Retriable() bool {
	return p.Kind == pkgfile.Incomplete || p.Signature == signature.Missing
}

// Reason is the cause of the problem without the path and kind that a
// package reader's (or signature checker's) error repeats, for messages
// that name the file and the kind themselves.
func (p Problem) Reason() string {
	if p.Err == nil {
		return ""
	}
	var pe *pkgfile.Error
	if errors.As(p.Err, &pe) && pe.Err != nil {
		return pe.Err.Error()
	}
	var se *signature.Error
	if errors.As(p.Err, &se) {
		reason := ""
		if se.KeyID != "" {
			reason = "key " + se.KeyID
		}
		if se.Err != nil {
			reason = strings.TrimPrefix(reason+": ", ": ") + strings.TrimPrefix(se.Err.Error(), se.Path+": ")
		}
		return reason
	}
	return strings.TrimPrefix(p.Err.Error(), p.Path+": ")
}

// Plan is what a command will do (or did).
type Plan struct {
	Actions  []Action
	Problems []Problem
}

// Result is what a command did.
type Result struct {
	Plan    *Plan
	Applied bool // false for a dry run or an empty plan
	// Created says the command made the repository's database: there was
	// none before (a dry run says it would).
	Created bool

	// Recovered says what was done to an interrupted transaction found
	// when the command started ("" when there was none).
	Recovered string
	// IgnoredDB is set by Reset when the existing database could not be
	// read and was rebuilt from the directory (the caller says so).
	IgnoredDB error
	// Unsatisfiable are the problems the change left that the repository
	// did not have before (Options.Installable "warn"), or would leave (a
	// dry run, with "warn" or "refuse").
	Unsatisfiable []deps.Problem
}

// FileState is one package file of the directory.
type FileState struct {
	Filename string
	Version  string
	HasSig   bool
}

// PackageState joins what the database and the directory say of one name.
type PackageState struct {
	Name  string
	Entry *repodb.Entry // nil when not registered
	Files []FileState   // readable files of this name, newest first
	Kept  []FileState   // files of this name retired in place (keep-in-place mode)
}

// State is the joined view of database and directory.
type State struct {
	Packages []PackageState // sorted by name
	Problems []Problem
	Others   []string // files that are neither packages, signatures, databases nor temporary
	// Pending is the plan update would apply now, from the same scan (a
	// plan the safety valve would refuse is still shown).
	Pending *Plan
}

// NotRegularError is an upload (AddOptions.Uploads) or its signature that
// is not a regular file. It says what the file is and nothing of where a
// link leads: whoever made the link must learn nothing from the answer.
type NotRegularError struct {
	Mode fs.FileMode
	What string // "an upload", "a signature"
}

func (e *NotRegularError) Error() string {
	return fsutil.TypeName(e.Mode) + ", not " + e.What
}

// LockTimeoutError says the lock was held by someone else for too long.
type LockTimeoutError struct {
	Path   string
	Holder string // who holds it, as far as can be told
	Waited time.Duration
}

func (e *LockTimeoutError) Error() string {
	return fmt.Sprintf("repository is locked (%s, held by %s); gave up after %s", e.Path, e.Holder, e.Waited)
}

// RefusedError says a plan would retire or unregister most of the repository.
type RefusedError struct {
	Removing, Total int
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to retire or unregister %d of %d packages without --force", e.Removing, e.Total)
}

// UnsignedDatabaseError says a change would write a signed database
// without its signature: clients whose SigLevel requires a signed database
// would refuse the repository from then on.
type UnsignedDatabaseError struct {
	Path string // the database (a path, or an s3:// address)
}

func (e *UnsignedDatabaseError) Error() string {
	return fmt.Sprintf("%s is signed, and this change would write it unsigned and drop its signature "+
		"(clients requiring a signed database would refuse the repository): sign it (sign_db = true in the profile, or -s), "+
		"or drop the signature on purpose with --unsign-db", e.Path)
}

// CheckRemoval is the safety valve's rule (invariant 7) for a plan that
// retires or unregisters removing of the total registered names: more
// than half of a repository of more than 10 is refused without force.
func CheckRemoval(removing, total int, force bool) error {
	if force || total <= 10 || 2*removing <= total {
		return nil
	}
	return &RefusedError{Removing: removing, Total: total}
}

// Repo is one repository.
type Repo struct {
	opts Options
}

// New returns the repository described by opts. It touches nothing.
func New(opts Options) *Repo { return &Repo{opts: opts} }

// Options returns the options the repository was made with.
func (r *Repo) Options() Options { return r.opts }

// Finding is one thing check found wrong.
type Finding struct {
	Kind     string // e.g. "missing-file", "checksum", "unregistered", "orphan-signature", "journal"
	Path     string
	Name     string
	Detail   string
	Repaired bool
}

// Report is the result of Check.
type Report struct {
	Findings []Finding
	Checked  int // entries checked
}

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/inbox"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/metrics"
	"github.com/pacrepo/pacrepo/internal/repo"
)

type watchOptions struct {
	inbox       string
	rejected    string
	settle      time.Duration
	window      time.Duration
	rescan      time.Duration
	rejectAfter time.Duration
	json        bool
	includeSigs bool
	sign        bool
	key         string
}

func init() { register(newWatchCommand) }

func newWatchCommand(g *Globals) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Commit uploads to the repository as they complete (a build farm's inbox)",
		Long: `Watch an inbox directory and move every package that builders upload
there into the repository as soon as it is complete, many in one database
write. Without an inbox (--inbox, or inbox in the profile) the repository
directory itself is watched and what arrives there is registered as update
would.

An upload counts when it is complete: unchanged for the settle time, then
read completely and verified as add verifies (and, with require_signature,
with its good .sig beside it). Builders should upload under a temporary name
(a dot-file, *.part, *.tmp) and rename when done; scp and rsync writing in
place work too, since nothing incomplete is ever added. Everything that
completed within the window, and everything that completed while a commit
ran, goes into one database write.

Uploads are moved into the repository with add -m's journal: a crash or
SIGKILL at any moment loses nothing, and the next command finishes the
move. An upload older than the registered version, or a different file
under a name the repository holds, is refused at once; one that stays
broken (truncated, corrupt, a bad signature) for inbox_reject_after is
refused too. Refused uploads are moved, with their .sig, into the rejected
directory (default INBOX/rejected) beside FILE.reason, which says why.

With debug_repo in the profile, the debug packages among the uploads
(PKGBASE-debug, makepkg's detached symbols) are committed to that
repository (a directory, not object storage), by its own rules, and the
rest to this one; it needs an inbox.

watch keeps running through trouble: a commit that fails (an unreadable
database, a full disk, a lock held too long) is reported and retried with a
growing back-off. SIGTERM or SIGINT finishes the current commit and exits 0;
SIGHUP reloads the configuration. One line per event goes to standard
output (--json: one JSON object per line), and the counters go to the
repository directory, where host serves them at /metrics.`,
		Example: `  pacrepo watch --inbox /srv/inbox
  pacrepo -P farm watch --json
  systemctl reload pacrepo-watch@farm   # SIGHUP: read the configuration again`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.inbox, "inbox", "", "directory builders upload into (default: the profile's inbox, else the repository directory)")
	f.StringVar(&o.rejected, "rejected-dir", "", "where refused uploads go (default: the profile's inbox_rejected, else INBOX/rejected)")
	f.DurationVar(&o.settle, "settle", 0, "an upload unchanged this long is read (default: inbox_settle, 2s)")
	f.DurationVar(&o.window, "window", 0, "commit the uploads that complete within this window together (default: inbox_window, 1s)")
	f.DurationVar(&o.rescan, "rescan", 0, "scan the whole directory this often, besides inotify (default: inbox_rescan, 30s)")
	f.DurationVar(&o.rejectAfter, "reject-after", 0, "refuse an upload that stays broken this long (default: inbox_reject_after, 10m)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per event")
	f.BoolVar(&o.includeSigs, "include-sigs", false, "write each package's signature into the database (%PGPSIG%)")
	f.BoolVarP(&o.sign, "sign", "s", false, "sign the databases (also sign_db in the profile)")
	f.StringVarP(&o.key, "key", "k", "", "sign with this key (default: the profile's sign_key)")
	return cmd
}

// watchSetup is what one load of the configuration gives the watch.
type watchSetup struct {
	dir, rejected string // the directory watched; "" rejected: the repository's own
	repoDir       string
	names         layout.Names
	createdInbox  bool // the inbox did not exist: watchDirs made it
}

func runWatch(cmd *cobra.Command, g *Globals, o watchOptions) error {
	ctx := cmd.Context()
	log := &watchLog{out: g.Stdout, json: o.json, noun: "uploads"}
	var setup *watchSetup
	load := func() (inbox.Target, inbox.Settings, error) {
		opts, sel, err := g.repoOptions(cmd)
		if err != nil {
			return nil, inbox.Settings{}, err
		}
		sel.UI.Finish()
		p := sel.Profile
		opts.Progress = nil
		opts.OnLockWait = func(w repo.LockWait) {
			log.lockWait(w)
		}
		if o.sign || p.SignsDatabases() {
			if opts.DatabaseSigner, err = signer(p, o.key); err != nil {
				return nil, inbox.Settings{}, err
			}
		}
		if p.SignPackages {
			if opts.PackageSigner, err = signer(p, o.key); err != nil {
				return nil, inbox.Settings{}, err
			}
		}
		s, err := watchDirs(o, p.Inbox, p.RejectedDir, opts.DB.Dir, opts.BackupDir)
		if err != nil {
			return nil, inbox.Settings{}, err
		}
		s.names = layout.Names{Repo: opts.DB.Name, Ignore: p.IgnorePatterns}
		if setup != nil && (s.dir != setup.dir || s.rejected != setup.rejected || s.repoDir != setup.repoDir) {
			return nil, inbox.Settings{}, errors.New("the inbox, the rejected directory or the repository changed: restart watch to use them")
		}
		if s.createdInbox {
			// A mistyped --inbox or inbox must not go unnoticed: builders
			// would upload elsewhere, and nothing would ever arrive.
			fmt.Fprintf(g.Stderr, "pacrepo: warning: the inbox %s did not exist: created it, with %s (check the spelling if builders upload elsewhere)\n", s.dir, s.rejected)
		}
		if s.dir == s.repoDir {
			// The repository's own files are not uploads.
			log.noun = "package files"
		}
		setup = s
		var set inbox.Settings
		set.Settle, set.Window, set.Rescan, set.RejectAfter = p.InboxTimings()
		for _, f := range []struct {
			flag string
			dst  *time.Duration
			v    time.Duration
		}{{"settle", &set.Settle, o.settle}, {"window", &set.Window, o.window}, {"rescan", &set.Rescan, o.rescan}, {"reject-after", &set.RejectAfter, o.rejectAfter}} {
			if cmd.Flags().Changed(f.flag) {
				switch {
				case f.v < 0:
					return nil, inbox.Settings{}, usage(fmt.Errorf("--%s must not be negative", f.flag))
				case f.v == 0 && f.flag == "reject-after":
					// Rejecting at once would take an upload still being
					// written in place for a broken one.
					return nil, inbox.Settings{}, usage(errors.New("--reject-after must be positive"))
				case f.v == 0 && f.flag == "rescan":
					// The rescan is what finds uploads inotify missed.
					return nil, inbox.Settings{}, usage(errors.New("--rescan must be positive"))
				}
				*f.dst = f.v
			}
		}
		r := repo.New(opts)
		req := repo.Request{EmbedSignatures: o.includeSigs || p.AddOptions.IncludeSigs}
		log.setStats(filepath.Join(opts.DB.Dir, s.names.WatchStatsFile()))
		target, err := g.watchTarget(cmd, sel, r, req, s.rejected != "", o, log)
		return target, set, err
	}
	// The first load decides the directories; Run loads again for itself.
	if _, _, err := load(); err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return inbox.Run(ctx, inbox.Options{
		Dir:         setup.dir,
		Names:       setup.names,
		RejectedDir: setup.rejected,
		Load:        load,
		Reload:      reload,
		OnEvent:     log.event,
	})
}

// watchDirs decides the directory watched and the rejected directory:
// --inbox, else the profile's inbox, else the repository directory (whose
// broken files are never moved). The rejected directory must be neither
// the repository's nor the inbox itself, or rejected files would come back;
// the backup directory (backupDir, "" when retired files are not moved)
// must neither be nor hold nor lie in the inbox, or retired files would
// be registered again, undoing removals and downgrades.
func watchDirs(o watchOptions, profileInbox string, rejectedOf func(string) string, repoDir, backupDir string) (*watchSetup, error) {
	dir := profileInbox
	if o.inbox != "" {
		dir = o.inbox
	}
	s := &watchSetup{repoDir: repoDir}
	if dir == "" {
		s.dir = repoDir
		return s, nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		s.createdInbox = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return nil, fmt.Errorf("create repository directory: %w", err)
	}
	if sameDir(dir, repoDir) {
		s.dir, s.createdInbox = repoDir, false
		return s, nil
	}
	rejected := rejectedOf(dir)
	if o.rejected != "" {
		if rejected, err = filepath.Abs(o.rejected); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(rejected, 0o755); err != nil {
		return nil, fmt.Errorf("rejected directory: %w", err)
	}
	if sameDir(rejected, repoDir) || sameDir(rejected, dir) {
		return nil, usage(fmt.Errorf("rejected directory %s is the repository directory or the inbox: rejected uploads would come back", rejected))
	}
	if err := checkBackupOutsideInbox(backupDir, dir); err != nil {
		return nil, err
	}
	s.dir, s.rejected = dir, rejected
	return s, nil
}

// checkBackupOutsideInbox refuses a backup directory that is the inbox,
// lies inside it or holds it, compared by identity.
func checkBackupOutsideInbox(backupDir, inboxDir string) error {
	if backupDir == "" {
		return nil
	}
	for _, c := range []struct{ path, dir, how string }{
		{backupDir, inboxDir, "is the inbox %[2]s or lies inside it"},
		{inboxDir, backupDir, "holds the inbox %[2]s"},
	} {
		inside, err := fsutil.Within(c.path, c.dir)
		if err != nil {
			return fmt.Errorf("compare backup_dir %s with the inbox %s: %w", backupDir, inboxDir, err)
		}
		if inside {
			return usage(fmt.Errorf("backup_dir %[1]s "+c.how+": watch would register retired files again, undoing removals and downgrades",
				backupDir, inboxDir))
		}
	}
	return nil
}

func sameDir(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// watchLog prints the watch's events, one line each, and keeps its
// counters in the statistics file host serves.
type watchLog struct {
	mu        sync.Mutex
	out       io.Writer
	json      bool
	noun      string // what arrives: "uploads", or "package files" without an inbox
	statsPath string
	stats     *metrics.WatchStats
}

func (l *watchLog) setStats(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.statsPath == path {
		return
	}
	l.statsPath = path
	s, err := metrics.LoadWatchStats(path)
	if err != nil {
		s = &metrics.WatchStats{} // a damaged file starts again from zero
	}
	l.stats = s
}

func (l *watchLog) lockWait(w repo.LockWait) {
	l.mu.Lock()
	l.stats.LockWaits++
	l.mu.Unlock()
	l.print(map[string]any{"event": "lock-wait", "lock": w.Path, "holder": w.Holder},
		fmt.Sprintf("waiting for the lock %s, held by %s", w.Path, w.Holder))
}

func (l *watchLog) event(e inbox.Event) {
	l.mu.Lock()
	s := l.stats
	// Saved (with an fsync) at the start, with each commit or failed
	// commit, and at the stop; counts of other events ride along.
	save := true
	switch e.Kind {
	case inbox.EventStart:
		s.StartedWatches++
	case inbox.EventStop:
	case inbox.EventCommit:
		if e.Outcome.Written {
			s.Commits++
			s.LastCommit = e.Time
			s.ObserveCommit(e.Duration)
		}
		s.Uploads += int64(len(e.Outcome.Taken))
		s.Added += int64(len(e.Outcome.Added))
		s.Retired += int64(len(e.Outcome.Retired))
	case inbox.EventError:
		s.Errors++
	case inbox.EventRejected:
		s.Rejected++
		save = false
	case inbox.EventProblem:
		s.Problems++
		save = false
	default:
		save = false
	}
	var saveErr error
	if save {
		saveErr = s.Save(l.statsPath)
	}
	l.mu.Unlock()
	obj, line := describeWatchEvent(e, l.noun)
	l.print(obj, line)
	if saveErr != nil {
		l.print(map[string]any{"event": "warning", "error": saveErr.Error()}, "warning: "+saveErr.Error())
	}
}

func (l *watchLog) print(obj map[string]any, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.json {
		if _, ok := obj["time"]; !ok {
			obj["time"] = time.Now().UTC().Format(time.RFC3339Nano)
		}
		data, _ := json.Marshal(obj)
		l.out.Write(append(data, '\n'))
	} else {
		fmt.Fprintf(l.out, "%s %s\n", time.Now().Format("2006-01-02 15:04:05"), line)
	}
	flushStdout(l.out)
}

// describeWatchEvent is e as a JSON object and as a line of text; noun is
// what the watched directory receives.
func describeWatchEvent(e inbox.Event, noun string) (map[string]any, string) {
	obj := map[string]any{"event": string(e.Kind), "time": e.Time.UTC().Format(time.RFC3339Nano)}
	var line string
	switch e.Kind {
	case inbox.EventStart:
		obj["pending"] = e.Pending
		line = fmt.Sprintf("watching; %d %s waiting", e.Pending, noun)
	case inbox.EventCommit:
		out := e.Outcome
		obj["uploads"], obj["written"], obj["duration_seconds"], obj["pending"] = e.Uploads, out.Written, e.Duration.Seconds(), e.Pending
		obj["added"], obj["retired"], obj["taken"] = nonNil(out.Added), nonNil(out.Retired), nonNil(out.Taken)
		var failed []string
		for _, f := range out.Failed {
			failed = append(failed, f.Path)
		}
		obj["not_added"] = nonNil(failed)
		restored := restoredFiles(out)
		line = fmt.Sprintf("commit of %d %s in %s: added %d%s, ", e.Uploads, noun, e.Duration.Round(time.Millisecond), len(out.Added), sample(out.Added))
		if len(restored) > 0 {
			line += fmt.Sprintf("restored %d%s, ", len(restored), sample(restored))
		}
		line += fmt.Sprintf("retired %d%s, not added %d; %d waiting", len(out.Retired), sample(out.Retired), len(out.Failed), e.Pending)
		if !out.Written {
			line += " (database unchanged)"
		}
	case inbox.EventProblem:
		obj["path"], obj["reason"] = e.Path, e.Reason
		line = fmt.Sprintf("not added yet: %s: %s", e.Path, e.Reason)
	case inbox.EventRejected:
		obj["path"], obj["to"], obj["reason"] = e.Path, e.To, e.Reason
		line = fmt.Sprintf("rejected %s (moved to %s): %s", e.Path, e.To, e.Reason)
	case inbox.EventError:
		obj["error"], obj["retry_in_seconds"], obj["pending"] = e.Err.Error(), e.RetryIn.Seconds(), e.Pending
		line = fmt.Sprintf("ERROR: commit failed, nothing changed: %v; retrying in %s", e.Err, e.RetryIn)
	case inbox.EventWarning:
		obj["error"] = e.Err.Error()
		line = "warning: " + e.Err.Error()
	case inbox.EventReload:
		line = "configuration reloaded"
		if e.Err != nil {
			obj["error"] = e.Err.Error()
			line = "configuration not reloaded: " + e.Err.Error()
		}
	case inbox.EventStop:
		obj["pending"] = e.Pending
		line = fmt.Sprintf("stopped; %d %s waiting", e.Pending, noun)
	}
	return obj, line
}

// restoredFiles are the files a commit took into the repository without
// registering anything for them: each put back a registered file that was
// missing. The commit line names them, or such an upload would vanish from
// the inbox without a word.
func restoredFiles(out *inbox.Outcome) []string {
	var restored []string
	for _, taken := range out.Taken {
		base := filepath.Base(taken)
		registered := false
		for _, added := range out.Added {
			if name, version, ok := strings.Cut(added, " "); ok && strings.HasPrefix(base, name+"-"+version+"-") {
				registered = true
				break
			}
		}
		if !registered {
			restored = append(restored, base)
		}
	}
	return restored
}

// sample is a few of names, for a line that stays one line.
func sample(names []string) string {
	if len(names) == 0 {
		return ""
	}
	const most = 5
	if len(names) <= most {
		return " (" + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (%s and %d more)", strings.Join(names[:most], ", "), len(names)-most)
}

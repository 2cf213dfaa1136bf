package repo

// TestStateful runs random sequences of operations on a repository (add by
// copy, move and link, sources that are links or carry names that are not
// package names, files of the directory added back by their path, remove,
// update, reset, rollback to a retained generation, add -l of a backup,
// check --repair,
// several writers at once in separate
// processes, writers killed at a crash point or after a random delay)
// interleaved with hostile changes to the directory (uploads in progress
// and completed, garbage with package names, links into and out of the
// directory, a registered file replaced behind pacrepo's back, a stray
// database's name), against a model of what the repository must hold.
//
// The seed chooses each sequence's configuration: the retirement mode
// (backup directory, kept in place, deleted, a backup directory that is
// the repository), keep_backups, an ignore_patterns pattern that comes to
// match registered package files, adds, removes and updates of a second
// database in the same directory, packages of two architectures
// (with adds of the registered version's other build), and the
// retention's keep_generations.
// Configurations that find bugs not yet fixed are left out by default
// (knownBugConfigs).
//
// A directory holds one repository: while it holds another database
// (a stray one, or the second database), every change to a repository
// there must be refused (*SharedDirectoryError) and change nothing in the
// directory or the backup directory; an add is then not into a quiet
// repository. A second file of a registered version is left in place and
// reported (check's duplicate): the settle checks each one check reports
// against what the test built, then deletes it as the user would.
//
// After every step it checks from outside, reading the databases and the
// directories:
//
//   - invariant 1: every entry names a present file with its size and
//     SHA-256;
//   - nothing accepted is lost: every package content pacrepo accepted (an
//     add that succeeded, or one a database registered) is still in the
//     repository directory or the backup directory (a link there counts
//     for its target; the sources the test made do not), unless the user
//     removed that name, or (when retired files are deleted) another file
//     of the name was registered that replaces it, or keep_backups pruned
//     it in favour of as many newer ones;
//   - retention: every package of the generations keep_generations keeps
//     is in the repository or the backup directory;
//   - an entry is never dropped while its file is present and intact
//     (except by remove);
//   - pacrepo creates nothing in the directory but package file names;
//   - liveness: a valid package added to a quiet repository (its file name
//     free, or holding the same content) is accepted and registered, and a
//     sequence that accepted no add fails;
//
// and every few steps it settles the directory (uploads complete, garbage
// gone), runs update and check --repair, and requires check to be clean
// and real pacman to list exactly the registered packages.
//
// A failure prints the seed, the configuration, how to run the sequence
// again, and a shortened sequence of steps that reproduces it. Knobs:
//
//	PACREPO_STATEFUL_SEED=N       run this seed (default: from the clock, printed)
//	PACREPO_STATEFUL_STEPS=N      steps per sequence (default 15; 10 with -short)
//	PACREPO_STATEFUL_BUDGET=D     start sequences while less than D has passed (default 5s; 2s with -short)
//	PACREPO_STATEFUL_RUNS=N       run exactly N sequences, each of its own configuration, whatever the time
//	PACREPO_STATEFUL_CONFIG=C     run every sequence in configuration C (as printed, e.g. "mode=delete arches=true")
//	PACREPO_STATEFUL_KNOWN_BUGS=1 let the seed choose the configurations of knownBugConfigs too
//	PACREPO_STATEFUL_REPLAY=F     replay the steps in file F (one a line, as printed)
//	PACREPO_STATEFUL_SKIP=A,B     leave operations A and B out (to look past a known bug)
//
// A long hunt:
//
//	PACREPO_STATEFUL_RUNS=60 PACREPO_STATEFUL_STEPS=300 go test ./internal/repo -run 'TestStateful$' -timeout 2h

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/history"
	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
	"github.com/pacrepo/pacrepo/internal/version"
)

// config is how a sequence's repository is configured.
type config struct {
	Mode        string // retirement: backup, keep (in place), delete, backup-is-repo
	KeepBackups int    // keep_backups: backups (or files kept in place) kept per name; 0 keeps all
	// Ignore: the ignore-on step adds ignore_patterns = ["lib-*"], as a
	// user editing the configuration would, matching lib-d's package files
	// that may be registered already.
	Ignore bool
	// SecondDB: other-add, other-remove and other-update change a second
	// database, other.db.tar.zst, of the same directory once the first
	// exists: refused, as every change beside another database. Before
	// it exists, other-add makes the first adds to both at once.
	SecondDB bool
	Arches   bool // packages are built for x86_64 or any
	// KeepGens is the retention's keep_generations (below 2: the newest
	// alone, no grace period): every file of the newest KeepGens
	// generations must stay, whatever the retirement mode.
	KeepGens int
}

func (c config) String() string {
	return fmt.Sprintf("mode=%s keep_backups=%d ignore=%t second-db=%t arches=%t keep_generations=%d", c.Mode, c.KeepBackups, c.Ignore, c.SecondDB, c.Arches, c.KeepGens)
}

// parseConfig reads a configuration as String prints it; what it leaves
// out is off (the mode defaults to delete).
func parseConfig(s string) (config, error) {
	c := config{Mode: "delete"}
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "mode":
			if !slices.Contains(statefulModes, v) {
				err = fmt.Errorf("no retirement mode %q", v)
			}
			c.Mode = v
		case "keep_backups":
			c.KeepBackups, err = strconv.Atoi(v)
		case "ignore":
			c.Ignore, err = strconv.ParseBool(v)
		case "second-db":
			c.SecondDB, err = strconv.ParseBool(v)
		case "arches":
			c.Arches, err = strconv.ParseBool(v)
		case "keep_generations":
			c.KeepGens, err = strconv.Atoi(v)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return c, fmt.Errorf("configuration %q: %w", s, err)
		}
	}
	return c, nil
}

// retirement modes a sequence runs in.
var statefulModes = []string{"backup", "keep", "delete", "backup-is-repo"}

// chooseConfig is the configuration of run number run of seed.
func chooseConfig(seed uint64, run int) config {
	rng := rand.New(rand.NewPCG(seed, 1000+uint64(run)))
	return config{
		Mode:        statefulModes[(int(seed%97)+run)%len(statefulModes)],
		KeepBackups: []int{0, 0, 1, 2}[rng.IntN(4)],
		Ignore:      rng.IntN(3) == 0,
		SecondDB:    rng.IntN(3) == 0,
		Arches:      rng.IntN(2) == 0,
		KeepGens:    []int{0, 0, 3}[rng.IntN(3)],
	}
}

// knownBugConfigs are the configurations that find bugs not yet fixed on
// this branch. When the seed chooses one, the sequence runs with that part
// of the configuration switched off (the test logs it), unless
// PACREPO_STATEFUL_KNOWN_BUGS=1, PACREPO_STATEFUL_CONFIG or a replay asks
// for it. Remove an entry once its fix has landed; each comment says a
// run that finds the bug (PACREPO_STATEFUL_CONFIG=C PACREPO_STATEFUL_SEED=11)
// and the sequence it shortens to.
var knownBugConfigs = []struct {
	name, bug string
	applies   func(config) bool
	off       func(*config)
}{}

// withoutKnownBugs switches off the parts of c that knownBugConfigs names.
func withoutKnownBugs(t testing.TB, c config) config {
	chosen := c
	var out []string
	for _, k := range knownBugConfigs {
		if k.applies(c) {
			out = append(out, fmt.Sprintf("%s (%s)", k.name, k.bug))
			k.off(&c)
		}
	}
	if len(out) > 0 {
		t.Logf("configuration %s: leaving out the known bugs of %s", chosen, strings.Join(out, "; "))
	}
	return c
}

// step is one operation of a sequence. Every field is chosen by the
// generator, so that a printed step replays the same operation.
type step struct {
	Op      string
	Name    string // package name
	Ver     string // package version
	Arch    string // package architecture ("" is x86_64)
	Variant int    // another build of the same name and version
	Arg     string // crash point, child operation, file name: op-specific
	Delay   int    // milliseconds, for kills
}

func (s step) String() string {
	arch := ""
	if s.Arch != "" {
		arch = " arch=" + s.Arch
	}
	return fmt.Sprintf("%s name=%s ver=%s%s variant=%d arg=%s delay=%d", s.Op, s.Name, s.Ver, arch, s.Variant, s.Arg, s.Delay)
}

func parseStep(line string) (step, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return step{}, errors.New("empty step")
	}
	s := step{Op: f[0]}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "name":
			s.Name = v
		case "ver":
			s.Ver = v
		case "arch":
			s.Arch = v
		case "variant":
			s.Variant, _ = strconv.Atoi(v)
		case "arg":
			s.Arg = v
		case "delay":
			s.Delay, _ = strconv.Atoi(v)
		}
	}
	return s, nil
}

var (
	statefulNames    = []string{"a", "b", "c", "lib-d"}
	statefulVersions = []string{"1-1", "2-1", "2-2", "3-1", "1:0.5-1"}
	statefulOps      = []string{
		"add", "add", "add", "add-move", "add-link", "add-via-link", "add-self-link", "add-badname", "add-back",
		"remove", "update", "update", "reset", "repair",
		"dropin", "dropin", "upload-start", "upload-finish", "garbage", "link-in", "link-out",
		"replace-registered", "stray-db", "crash", "kill", "concurrent", "rollback", "add-backup-link",
	}
	secondDBOps = []string{"other-add", "other-add", "other-remove", "other-update"}
	badNames    = []string{"x.tar.zst", "noext", "p.pkg.tar.zst.part", "p.pkg.tar.zst~", ".hidden.pkg.tar.zst", "test.db.tar.zst", "up.tmp"}
)

func generate(rng *rand.Rand, n int, skip []string, c config) []step {
	ops := slices.Clone(statefulOps)
	if c.SecondDB {
		ops = append(ops, secondDBOps...)
	}
	if c.Ignore {
		ops = append(ops, "ignore-on")
	}
	if c.Arches {
		ops = append(ops, "add-other-build", "add-other-build")
	}
	ops = slices.DeleteFunc(ops, func(op string) bool { return slices.Contains(skip, op) })
	steps := make([]step, n)
	for i := range steps {
		s := step{
			Op:      ops[rng.IntN(len(ops))],
			Name:    statefulNames[rng.IntN(len(statefulNames))],
			Ver:     statefulVersions[rng.IntN(len(statefulVersions))],
			Variant: rng.IntN(2),
			Delay:   rng.IntN(40),
		}
		if c.Arches && rng.IntN(2) == 0 {
			s.Arch = "any"
		}
		switch s.Op {
		case "add-badname":
			s.Arg = badNames[rng.IntN(len(badNames))]
		case "crash":
			s.Arg = []string{"add", "move", "update", "remove"}[rng.IntN(4)] + ":" + CrashPoints[rng.IntN(len(CrashPoints))]
		case "kill":
			s.Arg = []string{"add", "move", "link", "update", "remove", "reset", "repair"}[rng.IntN(7)]
		}
		steps[i] = s
	}
	return steps
}

func TestStateful(t *testing.T) {
	steps, budget := envInt("PACREPO_STATEFUL_STEPS", 15), 5*time.Second
	if testing.Short() {
		steps, budget = envInt("PACREPO_STATEFUL_STEPS", 10), 2*time.Second
	}
	if d, err := time.ParseDuration(os.Getenv("PACREPO_STATEFUL_BUDGET")); err == nil {
		budget = d
	}
	runs := envInt("PACREPO_STATEFUL_RUNS", 0) // 0: as many as the budget allows, at least one
	if f := os.Getenv("PACREPO_STATEFUL_REPLAY"); f != "" {
		cfg, seq := readReplay(t, f)
		if err := runSequence(t, cfg, seq); err != nil {
			t.Fatalf("replay of %s: %v", f, err)
		}
		return
	}
	var forced *config
	if s := os.Getenv("PACREPO_STATEFUL_CONFIG"); s != "" {
		c, err := parseConfig(s)
		if err != nil {
			t.Fatalf("PACREPO_STATEFUL_CONFIG: %v", err)
		}
		forced = &c
	}
	hunt := os.Getenv("PACREPO_STATEFUL_KNOWN_BUGS") == "1"
	seed := testutil.Seed(t, "PACREPO_STATEFUL_SEED")
	again := fmt.Sprintf("PACREPO_STATEFUL_SEED=%d PACREPO_STATEFUL_STEPS=%d", seed, steps)
	switch {
	case forced != nil:
		again += fmt.Sprintf(" PACREPO_STATEFUL_CONFIG=%q", forced.String())
	case hunt:
		again += " PACREPO_STATEFUL_KNOWN_BUGS=1"
	}
	total, start := 0, time.Now()
	run := 0
	for ; runs > 0 && run < runs || runs == 0 && (run == 0 || time.Since(start) < budget); run++ {
		cfg := chooseConfig(seed, run)
		switch {
		case forced != nil:
			cfg = *forced
		case !hunt:
			cfg = withoutKnownBugs(t, cfg)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(run)))
		seq := generate(rng, steps, strings.Split(os.Getenv("PACREPO_STATEFUL_SKIP"), ","), cfg)
		err := runSequence(t, cfg, seq)
		total += len(seq)
		if err == nil {
			continue
		}
		short, shortErr, reliable := shrink(t, cfg, seq, err)
		var b strings.Builder
		for _, s := range short {
			fmt.Fprintln(&b, s)
		}
		t.Fatalf("seed %d, run %d, config %s: %v\n\nrun it again with\n%s PACREPO_STATEFUL_RUNS=%d go test ./internal/repo -run 'TestStateful$'\n\n"+
			"shortened to %d of %d steps (%s), failing with: %v\nsave the lines below to a file F and replay with\n"+
			"PACREPO_STATEFUL_REPLAY=F go test ./internal/repo -run 'TestStateful$'\n\nconfig %s\n%s",
			seed, run, cfg, err, again, run+1, len(short), len(seq), reliable, shortErr, cfg, b.String())
	}
	t.Logf("%d steps in %d sequences, no invariant broken", total, run)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// readReplay reads a configuration line ("config ...", or "mode M" as
// older failures printed it) and the steps.
func readReplay(t *testing.T, file string) (config, []step) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := config{Mode: "delete"}
	var seq []step
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if c, ok := strings.CutPrefix(line, "config "); ok {
			if cfg, err = parseConfig(c); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if m, ok := strings.CutPrefix(line, "mode "); ok {
			cfg.Mode = m
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseStep(line)
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, s)
	}
	return cfg, seq
}

// shrink removes steps while the sequence still fails. Steps that kill
// processes do not always fail the same way, so each candidate is tried a
// few times; the result says how often the shortened sequence failed.
func shrink(t *testing.T, cfg config, seq []step, want error) ([]step, error, string) {
	fails := func(s []step) bool {
		for range 3 {
			if err := runSequence(t, cfg, s); err != nil && failureKind(err) == failureKind(want) {
				return true
			}
		}
		return false
	}
	cur := slices.Clone(seq)
	for chunk := len(cur) / 2; chunk >= 1; chunk /= 2 {
		for i := 0; i+chunk <= len(cur); {
			cand := slices.Concat(cur[:i], cur[i+chunk:])
			if len(cand) > 0 && fails(cand) {
				cur = cand
				continue
			}
			i += chunk
		}
	}
	n := 0
	var last error
	for range 5 {
		if err := runSequence(t, cfg, cur); err != nil && failureKind(err) == failureKind(want) {
			n++
			last = err
		}
	}
	return cur, last, fmt.Sprintf("it failed %d of 5 replays", n)
}

// failureKind names which invariant an error of runSequence broke, so that
// shrinking keeps the failure it started from rather than finding another.
func failureKind(err error) string {
	for _, k := range []string{"is lost", "invariant 1", "was unregistered though", "appeared in the repository",
		"not a package file name", "beside another database", "check after update", "pacman -Sl", "cannot be read", "liveness"} {
		if strings.Contains(err.Error(), k) {
			return k
		}
	}
	return "other"
}

// world is one repository under test and the model of what it must hold.
type world struct {
	t       testing.TB
	r       *Repo
	other   *Repo  // the second database of the directory (nil without one)
	base    string // holds repo/, backup/, src/
	dir     string
	backup  string // where retired files go ("" when deleted or kept)
	cfg     config
	step    int
	ordinal int // for unique source directories

	made       map[string]pkgMeta    // content SHA-256 -> the package the test built
	accepted   map[string]acceptance // content SHA-256 -> when and what
	removedAt  map[string][]int      // name -> steps that removed it (in either database)
	registered map[string][]int      // "name sha" -> steps that saw it registered (in either database)
	excused    map[string]bool       // contents the test itself destroyed
	uploads    map[string]string     // upload in progress (file in dir) -> complete package
	ours       map[string]bool       // names in the directory the test made (hostile files)
	removes    [2][]string           // names this step may have removed, by database (test, other)
	// refusing is the repository this step changes while the directory
	// holds another database (and no journal of an interrupted change
	// that recovery would finish): the change must be refused.
	refusing       *Repo
	quietAdds      int // adds into a quiet repository
	quietAddsTaken int // of those, the ones pacrepo accepted
	settles        int
}

type pkgMeta struct{ name, ver, arch string }

type acceptance struct {
	name string
	step int
}

func newWorld(t testing.TB, cfg config) *world {
	base := t.TempDir()
	w := &world{t: t, base: base, dir: filepath.Join(base, "repo"), cfg: cfg,
		made: map[string]pkgMeta{}, accepted: map[string]acceptance{}, removedAt: map[string][]int{},
		registered: map[string][]int{}, excused: map[string]bool{}, uploads: map[string]string{}, ours: map[string]bool{}}
	for _, d := range []string{w.dir, filepath.Join(base, "src")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{DB: repodb.Location{Dir: w.dir, Name: "test", Ext: ".tar.zst"}, LockTimeout: time.Minute, KeepBackups: cfg.KeepBackups,
		Retention: history.Retention{KeepGenerations: cfg.KeepGens}}
	switch cfg.Mode {
	case "backup":
		w.backup = filepath.Join(base, "backup")
		opts.BackupDir = w.backup
	case "keep":
		opts.RetireInPlace = true
	case "backup-is-repo":
		// A backup directory that is the repository through a link: every
		// retirement is refused, nothing may be lost.
		opts.BackupDir = filepath.Join(base, "alias")
		if err := os.Symlink(w.dir, opts.BackupDir); err != nil {
			t.Fatal(err)
		}
	}
	w.r = New(opts)
	if cfg.SecondDB {
		opts.DB.Name = "other"
		w.other = New(opts)
	}
	return w
}

// dbs are the repositories of the directory: test, then other.
func (w *world) dbs() []*Repo {
	if w.other != nil {
		return []*Repo{w.r, w.other}
	}
	return []*Repo{w.r}
}

// runSequence runs seq on a new repository and returns the first broken
// invariant.
func runSequence(t testing.TB, cfg config, seq []step) error {
	w := newWorld(t, cfg)
	for i, s := range seq {
		w.step = i
		var before [][]repodb.Entry
		for _, r := range w.dbs() {
			es, err := entriesOf(r)
			if err != nil {
				return fmt.Errorf("step %d (%s): before: %w", i, s, err)
			}
			before = append(before, es)
		}
		w.refusing = nil
		var unchanged map[string]string
		if r := w.changes(s); r != nil && w.refuses(r) {
			w.refusing, unchanged = r, w.snapshot()
		}
		if err := w.apply(s); err != nil {
			return fmt.Errorf("step %d (%s): %w", i, s, err)
		}
		if err := w.verify(before); err != nil {
			return fmt.Errorf("step %d (%s): %w", i, s, err)
		}
		if err := w.unchangedSince(unchanged); err != nil {
			return fmt.Errorf("step %d (%s): %w", i, s, err)
		}
		if (i+1)%20 == 0 {
			if err := w.settle(); err != nil {
				return fmt.Errorf("settling after step %d: %w", i, err)
			}
		}
	}
	if err := w.settle(); err != nil {
		return fmt.Errorf("settling at the end: %w", err)
	}
	if w.quietAdds > 0 && w.quietAddsTaken == 0 {
		return fmt.Errorf("liveness: none of %d adds into a quiet repository was accepted", w.quietAdds)
	}
	return nil
}

// pkg makes the package of s in a new source directory and returns its
// path and SHA-256.
func (w *world) pkg(s step) (string, string, error) {
	w.ordinal++
	dir := filepath.Join(w.base, "src", strconv.Itoa(w.ordinal))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	return w.build(dir, pkggen.Spec{Name: s.Name, Version: s.Ver, Arch: s.Arch, NumFiles: 1 + s.Variant, FileSize: 16 + 7*s.Variant})
}

// build makes a package in dir and remembers what its content is.
func (w *world) build(dir string, spec pkggen.Spec) (string, string, error) {
	p, err := pkggen.MakePackage(dir, spec)
	if err != nil {
		return "", "", err
	}
	sha, err := sha256File(p)
	arch := spec.Arch
	if arch == "" {
		arch = "x86_64"
	}
	w.made[sha] = pkgMeta{spec.Name, spec.Version, arch}
	return p, sha, err
}

// apply runs one step, noting in w.removes the names it may have removed
// (remove, and processes that ran remove and may have been killed).
// Errors pacrepo returns for the operation are not failures: refusing is
// often right; the invariants judge, and so does liveness for adds into a
// quiet repository.
func (w *world) apply(s step) error {
	w.removes = [2][]string{}
	r := w.r
	switch s.Op {
	case "add", "add-move", "add-link":
		p, sha, err := w.pkg(s)
		if err != nil {
			return err
		}
		mode := map[string]AddMode{"add": Copy, "add-move": Move, "add-link": Link}[s.Op]
		ok, err := w.addJudged(r, p, filepath.Base(p), sha, s.Name, mode)
		if ok && mode == Copy {
			os.Remove(p) // the builder cleans up: the repository holds the only copy
		}
		return err
	case "add-via-link":
		p, sha, err := w.pkg(s)
		if err != nil {
			return err
		}
		link := filepath.Join(w.base, "src", fmt.Sprintf("via-%d.pkg.tar.zst", w.ordinal))
		rel, _ := filepath.Rel(filepath.Dir(link), p)
		os.Symlink(rel, link)
		// The package is placed under the name makepkg gives it, not the
		// link's: that is the name that must be free.
		_, err = w.addJudged(r, link, filepath.Base(p), sha, s.Name, Move)
		return err
	case "add-other-build":
		// The registered version of the name built for the other
		// architecture: add registers it, and the file it replaces in
		// the entry stays where it is (nothing newer made it obsolete).
		es, _ := entriesOf(r)
		i := slices.IndexFunc(es, func(e repodb.Entry) bool { return e.Name == s.Name })
		if i < 0 {
			return nil
		}
		e, arch := es[i], "any"
		if e.Arch == "any" {
			arch = ""
		}
		p, sha, err := w.pkg(step{Name: e.Name, Ver: e.Version, Arch: arch, Variant: s.Variant})
		if err != nil {
			return err
		}
		ok, err := w.addJudged(r, p, filepath.Base(p), sha, e.Name, Copy)
		if err != nil {
			return err
		}
		if ok {
			os.Remove(p)
		}
		if got, _ := sha256File(filepath.Join(w.dir, e.Filename)); got != e.SHA256Sum && !w.excused[e.SHA256Sum] {
			return fmt.Errorf("add of %s, another build of %s %s, retired the registered %s: a file of the same version is not obsolete",
				filepath.Base(p), e.Name, e.Version, e.Filename)
		}
	case "add-self-link":
		// A source that is a link to the repository's own registered file.
		es, _ := entriesOf(r)
		for _, e := range es {
			if e.Name == s.Name {
				link := filepath.Join(w.base, "src", fmt.Sprintf("self-%d.pkg.tar.zst", w.step))
				os.Symlink(filepath.Join(w.dir, e.Filename), link)
				r.Add(ctx, []string{link}, AddOptions{Mode: Move})
				os.Remove(link)
			}
		}
	case "add-badname":
		p, sha, err := w.pkg(s)
		if err != nil {
			return err
		}
		bad := filepath.Join(filepath.Dir(p), s.Arg)
		if err := os.Rename(p, bad); err != nil {
			return err
		}
		dest := filepath.Base(p) // the canonical name
		if r.classify(s.Arg) == layout.Package {
			dest = s.Arg
		}
		if ok, err := w.addJudged(r, bad, dest, sha, s.Name, Copy); !ok || err != nil {
			return err
		}
		os.Remove(bad)
	case "add-back":
		// A package file of the directory that no database registers (one
		// kept in place, a retirement refused, a drop-in) added by its
		// path: it is registered where it is.
		if fs := w.unregisteredFiles(s.Name); len(fs) > 0 {
			path := filepath.Join(w.dir, fs[s.Variant%len(fs)])
			sha, _ := sha256File(path)
			_, err := w.addJudged(r, path, filepath.Base(path), sha, s.Name, Move)
			return err
		}
	case "add-backup-link":
		// add -l of a backup (repoctl's way back to an older version): a
		// link to it is registered, and no pruning may take the link's
		// target while it is.
		if w.backup == "" {
			return nil
		}
		des, _ := os.ReadDir(w.backup)
		var fs []string
		for _, d := range des {
			if d.Type().IsRegular() && isBackupName(d.Name()) && !strings.HasSuffix(d.Name(), ".sig") {
				fs = append(fs, d.Name())
			}
		}
		if len(fs) == 0 {
			return nil
		}
		path := filepath.Join(w.backup, fs[(s.Variant*7+s.Delay)%len(fs)])
		sha, _ := sha256File(path)
		m, ok := w.made[sha]
		if !ok {
			return nil
		}
		dest := filepath.Base(path) // its canonical name: a backup's .N left out
		if i := strings.LastIndexByte(dest, '.'); strings.Trim(dest[i+1:], "0123456789") == "" {
			dest = dest[:i]
		}
		_, err := w.addJudged(r, path, dest, sha, m.name, Link)
		return err
	case "remove":
		w.removes[0] = []string{s.Name}
		_, err := r.Remove(ctx, []string{s.Name}, Request{})
		return w.refusedIfShared(r, err)
	case "update":
		_, err := r.Update(ctx, nil, Request{})
		return w.refusedIfShared(r, err)
	case "rollback":
		return w.rollback(r, s)
	case "reset":
		_, err := r.Reset(ctx, Request{})
		return w.refusedIfShared(r, err)
	case "repair":
		r.Check(ctx, true)
	case "other-add":
		// An add to the second database, once the first exists. The
		// README promises one repository per directory: the add is
		// refused and changes nothing. Before, the first adds to both.
		if _, err := os.Lstat(w.r.opts.DB.DBPath()); err != nil {
			return w.firstAdds(s)
		}
		p, sha, err := w.pkg(s)
		if err != nil {
			return err
		}
		_, err = w.other.Add(ctx, []string{p}, AddOptions{Mode: Copy})
		if err == nil {
			w.accept(sha, s.Name)
			os.Remove(p)
		}
		return w.refusedIfShared(w.other, err)
	case "other-remove":
		w.removes[1] = []string{s.Name}
		_, err := w.other.Remove(ctx, []string{s.Name}, Request{})
		return w.refusedIfShared(w.other, err)
	case "other-update":
		_, err := w.other.Update(ctx, nil, Request{})
		return w.refusedIfShared(w.other, err)
	case "ignore-on":
		// The user adds a pattern to ignore_patterns that matches package
		// files, some registered already.
		w.r = withOpts(w.r, func(o *Options) { o.IgnorePatterns = []string{"lib-*"} })
	case "dropin":
		// An upload that is complete: written elsewhere, renamed in.
		p, _, err := w.pkg(s)
		if err != nil {
			return err
		}
		dst := filepath.Join(w.dir, filepath.Base(p))
		if _, err := os.Lstat(dst); err == nil {
			return nil // never overwrite: the builder would not either
		}
		os.Rename(p, dst)
	case "upload-start":
		p, _, err := w.pkg(s)
		if err != nil {
			return err
		}
		dst := filepath.Join(w.dir, filepath.Base(p))
		if _, err := os.Lstat(dst); err == nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b[:len(b)/2], 0o644); err != nil {
			return err
		}
		w.uploads[dst] = p
	case "upload-finish":
		w.finishUploads()
	case "garbage":
		name := fmt.Sprintf("%s-9-1-x86_64.pkg.tar.zst", s.Name)
		if _, err := os.Lstat(filepath.Join(w.dir, name)); err == nil {
			return nil
		}
		os.WriteFile(filepath.Join(w.dir, name), []byte("not a package, just text"), 0o644)
		w.ours[name] = true
	case "link-in":
		// A link in the directory to a package outside (as a user might make).
		p, _, err := w.pkg(s)
		if err != nil {
			return err
		}
		name := "linked-" + filepath.Base(p)
		os.Symlink(p, filepath.Join(w.dir, name))
		w.ours[name] = true
	case "link-out":
		// A link in the directory to a file of the directory that is not a
		// package (the journal, the lock): never a package.
		name := fmt.Sprintf("%s-8-1-x86_64.pkg.tar.zst", s.Name)
		os.Symlink(".test.pacrepo.lock", filepath.Join(w.dir, name))
		w.ours[name] = true
	case "replace-registered":
		// Someone replaces a registered file with another build behind
		// pacrepo's back: what was there is lost by their hand.
		es, _ := entriesOf(r)
		for _, e := range es {
			if e.Name != s.Name {
				continue
			}
			p, _, err := w.build(filepath.Join(w.base, "src"), pkggen.Spec{Name: e.Name, Version: e.Version, Arch: e.Arch, NumFiles: 5, FileSize: 99})
			if err != nil {
				return err
			}
			w.excused[e.SHA256Sum] = true
			os.Rename(p, filepath.Join(w.dir, e.Filename))
		}
	case "stray-db":
		// Another repository's database, as far as its name goes.
		os.WriteFile(filepath.Join(w.dir, "stray.db.tar.zst"), []byte("another repository's database"), 0o644)
		w.ours["stray.db.tar.zst"] = true
	case "crash":
		op, point, _ := strings.Cut(s.Arg, ":")
		args, shas, removed := w.childArgs(s, op)
		w.removes[0] = removed
		cmd := helper(r, op, args, CrashEnv+"="+point)
		cmd.Run()
		w.acceptRegistered(shas, s.Name)
	case "kill":
		args, shas, removed := w.childArgs(s, s.Arg)
		w.removes[0] = removed
		cmd := helper(r, s.Arg, args)
		if err := cmd.Start(); err != nil {
			return err
		}
		time.Sleep(time.Duration(s.Delay) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		w.acceptRegistered(shas, s.Name)
	case "concurrent":
		// Three writers at once: add, update and remove.
		addArgs, addSHAs, _ := w.childArgs(s, "add")
		rm := statefulNames[(slices.Index(statefulNames, s.Name)+1)%len(statefulNames)]
		w.removes[0] = []string{rm}
		cmds := []*exec.Cmd{helper(r, "add", addArgs), helper(r, "update", nil), helper(r, "remove", []string{rm})}
		for _, c := range cmds {
			if err := c.Start(); err != nil {
				return err
			}
		}
		for _, c := range cmds {
			c.Wait()
		}
		if cmds[0].ProcessState.Success() {
			w.acceptRegistered(addSHAs, s.Name)
		}
	default:
		return fmt.Errorf("unknown step %q", s.Op)
	}
	return nil
}

// firstAdds adds to both databases of the directory at once, before test's
// exists: each may scan before the other's database is written, so both
// may be created (nothing is lost; from then on every change to either is
// refused), or the later one is refused. Neither is held to liveness; the
// invariants judge.
func (w *world) firstAdds(s step) error {
	other := s
	other.Name = statefulNames[(slices.Index(statefulNames, s.Name)+1)%len(statefulNames)]
	adds := []struct {
		r        *Repo
		s        step
		src, sha string
		err      error
	}{{r: w.r, s: s}, {r: w.other, s: other}}
	for i := range adds {
		p, sha, err := w.pkg(adds[i].s)
		if err != nil {
			return err
		}
		adds[i].src, adds[i].sha = p, sha
	}
	var wg sync.WaitGroup
	for i := range adds {
		a := &adds[i]
		wg.Go(func() { _, a.err = a.r.Add(ctx, []string{a.src}, AddOptions{Mode: Copy}) })
	}
	wg.Wait()
	for _, a := range adds {
		if a.err == nil {
			w.accept(a.sha, a.s.Name)
			os.Remove(a.src)
		}
	}
	return nil
}

// addJudged adds src, which becomes dest in the directory, to r, and holds
// add to liveness: into a quiet repository (dest a package file name of the
// configuration, and free or holding the same content) a valid package
// must be accepted and registered. It tells whether add accepted it.
func (w *world) addJudged(r *Repo, src, dest, sha, name string, mode AddMode) (bool, error) {
	quiet := r.classify(dest) == layout.Package
	// An interrupted change still to be finished or rolled back is not
	// quiet: its recovery, which the add runs first, may take away the
	// very file added (a placed file of a move the crash left unrecorded).
	if _, err := os.Lstat(r.journalPath()); err == nil {
		quiet = false
	}
	if _, err := os.Lstat(filepath.Join(w.dir, dest)); err == nil {
		if got, _ := sha256File(filepath.Join(w.dir, dest)); got != sha {
			quiet = false
		}
	}
	shared := len(w.othersBeside(r)) > 0
	_, err := r.Add(ctx, []string{src}, AddOptions{Mode: mode})
	ok := err == nil
	if w.refusing == r {
		// Beside another database: refused, whatever else it would have
		// been refused for; a valid add for SharedDirectoryError.
		if ok {
			return ok, fmt.Errorf("add of %s (%s) to %s was accepted though the directory holds another database", dest, name, r.opts.DB.Name)
		}
		if quiet {
			return ok, w.refusedIfShared(r, err)
		}
		return ok, nil
	}
	if !quiet || shared {
		if ok {
			w.accept(sha, name)
		}
		return ok, nil
	}
	w.quietAdds++
	if err != nil && !w.refusedBackup(err) {
		return false, fmt.Errorf("liveness: add of %s (%s) to a quiet repository %s was refused: %v", dest, name, r.opts.DB.Name, err)
	}
	es, rerr := entriesOf(r)
	if rerr != nil {
		return false, fmt.Errorf("the database cannot be read: %w", rerr)
	}
	if !slices.ContainsFunc(es, func(e repodb.Entry) bool { return e.Name == name && e.SHA256Sum == sha }) {
		return false, fmt.Errorf("liveness: add of %s (%s) to a quiet repository %s returned %v, but does not register it", dest, name, r.opts.DB.Name, err)
	}
	// Registered, but the retirement that followed was refused: the
	// package is accepted all the same.
	w.quietAddsTaken++
	w.accept(sha, name)
	return ok, nil
}

// rollback rolls back to one of the generations retention keeps (the
// step's variant and delay choose which). Their files are all kept, so
// it may not fail for a missing file the test did not take away; when it
// succeeds, the database registers exactly the generation's packages.
func (w *world) rollback(r *Repo, s step) error {
	h := r.History()
	gens, err := h.Generations(ctx)
	if err != nil || len(gens) == 0 {
		return err
	}
	retained := gens[max(0, len(gens)-max(w.cfg.KeepGens, 1)):]
	g := retained[(s.Variant*7+s.Delay)%len(retained)]
	rec, err := h.Record(ctx, g)
	if err != nil {
		return err
	}
	target, err := h.Packages(ctx, rec)
	if err != nil {
		return err
	}
	want := map[string]string{}
	byFile := map[string]string{}
	for _, p := range target {
		want[p.Name], byFile[p.File] = p.SHA256, p.SHA256
	}
	before, _ := entriesOf(r)
	for _, e := range before {
		if _, ok := want[e.Name]; !ok {
			w.removes[0] = append(w.removes[0], e.Name) // rollback unregisters it, as remove would
		}
	}
	_, err = r.Rollback(ctx, g, Request{Force: true})
	if w.refusing == r {
		return w.refusedIfShared(r, err)
	}
	var missing *MissingFilesError
	if errors.As(err, &missing) {
		for _, f := range missing.Files {
			if !w.excused[byFile[f]] {
				return fmt.Errorf("rollback to generation %d, which retention keeps: %v", g, err)
			}
		}
	}
	if err != nil {
		return nil // a file in the way, a problem: the planner's to judge
	}
	after, err := entriesOf(r)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, e := range after {
		got[e.Name] = e.SHA256Sum
	}
	if !maps.Equal(got, want) {
		return fmt.Errorf("rollback to generation %d registers %v, want its packages %v", g, got, want)
	}
	return nil
}

// refusedBackup: a backup directory that is the repository refuses every
// retirement, after the database is written; that error is the expected
// one.
func (w *world) refusedBackup(err error) bool {
	return w.cfg.Mode == "backup-is-repo" && strings.Contains(err.Error(), "is the repository directory")
}

// changes is the repository that step s changes (directly or through
// child processes), nil for the test's own changes to the directory and
// for check --repair.
func (w *world) changes(s step) *Repo {
	switch s.Op {
	case "add", "add-move", "add-link", "add-via-link", "add-self-link", "add-badname", "add-back", "add-other-build",
		"remove", "update", "reset", "crash", "kill", "concurrent", "rollback", "add-backup-link":
		return w.r
	case "other-add", "other-remove", "other-update":
		return w.other
	}
	return nil
}

// othersBeside are the databases in the directory besides r's, found as
// scan finds them.
func (w *world) othersBeside(r *Repo) []string {
	des, _ := os.ReadDir(w.dir)
	var out []string
	for _, d := range des {
		if !d.IsDir() && otherDatabase(r.opts.DB.Name, d.Name()) {
			out = append(out, d.Name())
		}
	}
	return out
}

// refuses: the directory holds another database besides r's, so every
// change to r is refused, and there is no journal of r's whose recovery
// (which comes first) would finish an earlier change.
func (w *world) refuses(r *Repo) bool {
	_, err := os.Lstat(r.journalPath())
	return len(w.othersBeside(r)) > 0 && errors.Is(err, os.ErrNotExist)
}

// refusedIfShared: when this step's change to r must be refused, err is a
// *SharedDirectoryError.
func (w *world) refusedIfShared(r *Repo, err error) error {
	var shared *SharedDirectoryError
	if w.refusing != r || errors.As(err, &shared) {
		return nil
	}
	return fmt.Errorf("a change to %s beside another database returned %v, not a SharedDirectoryError", r.opts.DB.Name, err)
}

// snapshot is what the repository and backup directories hold: each name
// (a backup's under "backup/") and its content, but the locks and their
// temporaries (taken before the refusal, and left by writers killed while
// taking them) and pacrepo's own files other than journal and kept list.
func (w *world) snapshot() map[string]string {
	skip := func(name string) bool {
		return slices.ContainsFunc(w.dbs(), func(r *Repo) bool {
			switch r.classify(name) {
			case layout.DatabaseLock, layout.Temporary:
				return true
			case layout.Own:
				return name != r.names().JournalFile() && name != r.names().KeptFile()
			}
			return false
		})
	}
	snap := map[string]string{}
	for _, d := range []struct{ dir, prefix string }{{w.dir, ""}, {w.backup, "backup/"}} {
		if d.dir == "" {
			continue
		}
		des, _ := os.ReadDir(d.dir)
		for _, de := range des {
			if d.prefix == "" && skip(de.Name()) {
				continue
			}
			path := filepath.Join(d.dir, de.Name())
			what := de.Type().String()
			if target, err := os.Readlink(path); err == nil {
				what = "link to " + target
			} else if sha, err := sha256File(path); err == nil {
				what = "sha256 " + sha
			}
			snap[d.prefix+de.Name()] = what
		}
	}
	return snap
}

// unchangedSince: the directories hold what snapshot found (nil: nothing
// to hold them to).
func (w *world) unchangedSince(snap map[string]string) error {
	if snap == nil {
		return nil
	}
	now := w.snapshot()
	for _, n := range slices.Sorted(maps.Keys(snap)) {
		if now[n] != snap[n] {
			return fmt.Errorf("%s changed (%s, now %q) though the change was beside another database and must be refused", n, snap[n], now[n])
		}
	}
	for _, n := range slices.Sorted(maps.Keys(now)) {
		if _, ok := snap[n]; !ok {
			return fmt.Errorf("%s appeared though the change was beside another database and must be refused", n)
		}
	}
	return nil
}

// unregisteredFiles are the regular package files of name in the
// directory that no database registers, sorted.
func (w *world) unregisteredFiles(name string) []string {
	reg := map[string]bool{}
	for _, r := range w.dbs() {
		es, _ := entriesOf(r)
		for _, e := range es {
			reg[e.Filename] = true
		}
	}
	des, _ := os.ReadDir(w.dir)
	var out []string
	for _, d := range des {
		if !d.Type().IsRegular() || reg[d.Name()] || w.r.classify(d.Name()) != layout.Package {
			continue
		}
		if sha, err := sha256File(filepath.Join(w.dir, d.Name())); err == nil && w.made[sha].name == name {
			out = append(out, d.Name())
		}
	}
	return out
}

// childArgs makes the arguments of a child process running op, with the
// SHA-256 of the packages it adds and the names it may remove.
func (w *world) childArgs(s step, op string) (args, shas, removes []string) {
	switch op {
	case "add", "move", "link":
		if p, sha, err := w.pkg(s); err == nil {
			args, shas = []string{p}, []string{sha}
		}
	case "remove":
		args, removes = []string{s.Name}, []string{s.Name}
	}
	return args, shas, removes
}

// acceptRegistered accepts the contents a child process added, as far as
// the database registers them: it may have been killed before or after
// its commit.
func (w *world) acceptRegistered(shas []string, name string) {
	es, _ := entriesOf(w.r)
	for _, sha := range shas {
		if slices.ContainsFunc(es, func(e repodb.Entry) bool { return e.SHA256Sum == sha }) {
			w.accept(sha, name)
		}
	}
}

func (w *world) accept(sha, name string) {
	if _, ok := w.accepted[sha]; !ok {
		w.accepted[sha] = acceptance{name: name, step: w.step}
	}
}

func (w *world) finishUploads() {
	for dst, full := range w.uploads {
		tmp := filepath.Join(w.dir, ".upload-"+filepath.Base(dst))
		b, err := os.ReadFile(full)
		if err == nil && os.WriteFile(tmp, b, 0o644) == nil {
			os.Rename(tmp, dst)
		}
		delete(w.uploads, dst)
	}
}

// entriesOf reads r's database from outside; no database yet is none.
func entriesOf(r *Repo) ([]repodb.Entry, error) {
	es, err := repodb.Read(r.opts.DB.DBPath(), repodb.ReadOptions{})
	if errors.Is(err, os.ErrNotExist) && repodb.KindOf(err) == 0 {
		return nil, nil
	}
	return es, err
}

// verify checks the invariants after one step; before holds each
// database's entries before it.
func (w *world) verify(before [][]repodb.Entry) error {
	registeredSHA := map[string]bool{}
	for i, r := range w.dbs() {
		db := r.opts.DB.Name
		es, err := entriesOf(r)
		if err != nil {
			return fmt.Errorf("the database %s cannot be read: %w", db, err)
		}
		now := map[string]repodb.Entry{}
		for _, e := range es {
			now[e.Name] = e
			registeredSHA[e.SHA256Sum] = true
			w.registered[e.Name+" "+e.SHA256Sum] = append(w.registered[e.Name+" "+e.SHA256Sum], w.step)
			w.accept(e.SHA256Sum, e.Name)
			// (Asked without ignore_patterns: a pattern added later may
			// match a file registered before.)
			if (layout.Names{Repo: db}).Classify(e.Filename) != layout.Package {
				return fmt.Errorf("entry %s of %s names %q, not a package file name", e.Name, db, e.Filename)
			}
			path := filepath.Join(w.dir, e.Filename)
			sha, err := sha256File(path)
			if err != nil {
				return fmt.Errorf("invariant 1: entry %s %s of %s: %s: %w", e.Name, e.Version, db, e.Filename, err)
			}
			fi, _ := os.Stat(path)
			if sha != e.SHA256Sum || fi.Size() != e.CSize {
				if w.excused[e.SHA256Sum] {
					continue // the test replaced it; the next update refreshes it
				}
				return fmt.Errorf("invariant 1: entry %s %s of %s: %s does not match its size or SHA-256", e.Name, e.Version, db, e.Filename)
			}
		}
		if err := linksIndexAgrees(r); err != nil {
			return err
		}
		for _, n := range w.removes[i] {
			if _, still := now[n]; !still {
				w.removedAt[n] = append(w.removedAt[n], w.step)
			}
		}
		// An entry dropped by anything but remove must have lost its file.
		if i >= len(before) {
			continue
		}
		for _, e := range before[i] {
			if _, ok := now[e.Name]; ok || slices.Contains(w.removes[i], e.Name) {
				continue
			}
			if sha, err := sha256File(filepath.Join(w.dir, e.Filename)); err == nil && sha == e.SHA256Sum {
				return fmt.Errorf("%s %s was unregistered from %s though its file %s is present and intact", e.Name, e.Version, db, e.Filename)
			}
		}
	}
	present, err := w.presentContents()
	if err != nil {
		return err
	}
	for sha, a := range w.accepted {
		if present[sha] != "" || w.excused[sha] || w.lossExcused(sha, a, present, registeredSHA) {
			continue
		}
		return fmt.Errorf("package %s accepted at step %d (sha256 %.12s) is lost", a.name, a.step, sha)
	}
	if err := w.retainedPresent(present); err != nil {
		return err
	}
	return w.onlyPackageNamesCreated()
}

// linksIndexAgrees: a links index trusted for the links database on disk
// lists exactly its packages, at their versions (a change written through
// it would otherwise copy frames it misdescribes).
func linksIndexAgrees(r *Repo) error {
	lix := repodb.ReadLinksIndex(r.opts.DB)
	if lix == nil {
		return nil
	}
	links, err := repodb.ReadLinks(r.opts.DB.LinksPath())
	if err != nil {
		return fmt.Errorf("the links database its index describes cannot be read: %w", err)
	}
	listed := lix.Packages()
	if len(listed) != len(links) {
		return fmt.Errorf("the links index lists %d packages, the links database %d", len(listed), len(links))
	}
	for name, version := range listed {
		if _, ok := links[name+"-"+version]; !ok {
			return fmt.Errorf("the links index lists %s-%s, the links database does not", name, version)
		}
	}
	return nil
}

// retainedPresent: every package of the generations the retention keeps
// (the newest KeepGens) is in the repository or the backup directory,
// unless the test itself took it away.
func (w *world) retainedPresent(present map[string]string) error {
	h := w.r.History()
	gens, err := h.Generations(ctx)
	if err != nil {
		return err
	}
	for _, g := range gens[max(0, len(gens)-max(w.cfg.KeepGens, 1)):] {
		rec, err := h.Record(ctx, g)
		if err != nil {
			return fmt.Errorf("generation %d: %w", g, err)
		}
		pkgs, err := h.Packages(ctx, rec)
		if err != nil {
			return fmt.Errorf("generation %d: %w", g, err)
		}
		for _, p := range pkgs {
			if present[p.SHA256] == "" && !w.excused[p.SHA256] {
				return fmt.Errorf("%s %s (%s), of generation %d which retention keeps, is gone", p.Name, p.Version, p.File, g)
			}
		}
	}
	return nil
}

// lossExcused: the user removed the name since; or, retired files being
// deleted, another file of the name was registered since that replaces
// this one (a file of the same version, another architecture's build,
// does not);
// or keep_backups pruned it, keeping at least as many backups (files kept
// in place) of the name that are not older.
func (w *world) lossExcused(sha string, a acceptance, present map[string]string, registeredSHA map[string]bool) bool {
	for _, st := range w.removedAt[a.name] {
		if st >= a.step {
			return true
		}
	}
	lost, known := w.made[sha]
	switch {
	case w.cfg.Mode == "delete":
		for key, steps := range w.registered {
			name, other, _ := strings.Cut(key, " ")
			if name != a.name || other == sha || !slices.ContainsFunc(steps, func(st int) bool { return st >= a.step }) {
				continue
			}
			if m, ok := w.made[other]; ok && known && version.Compare(m.ver, lost.ver) == 0 {
				continue
			}
			return true
		}
	case w.cfg.KeepBackups > 0 && known && (w.cfg.Mode == "backup" || w.cfg.Mode == "keep"):
		kept := 0
		for other, where := range present {
			m, ok := w.made[other]
			if !ok || other == sha || m.name != a.name || version.Compare(m.ver, lost.ver) < 0 {
				continue
			}
			if w.cfg.Mode == "backup" && where == "backup" || w.cfg.Mode == "keep" && where == "repo" && !registeredSHA[other] {
				kept++
			}
		}
		return kept >= w.cfg.KeepBackups
	}
	return false
}

// presentContents is every package content in the repository directory
// and the backup directory, and where ("repo" or "backup"): a link there
// counts for its target, the test's sources do not (children that add
// leave theirs).
func (w *world) presentContents() (map[string]string, error) {
	present := map[string]string{}
	for _, d := range []struct{ dir, where string }{{w.dir, "repo"}, {w.backup, "backup"}} {
		if d.dir == "" {
			continue
		}
		des, err := os.ReadDir(d.dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			if sha, err := sha256File(filepath.Join(d.dir, de.Name())); err == nil {
				present[sha] = d.where
			}
		}
	}
	return present, nil
}

// onlyPackageNamesCreated: every file in the directory is a package file
// name, a signature, a database's (lastupdate too), ours (dot-files), or
// one the test made.
func (w *world) onlyPackageNamesCreated() error {
	des, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	for _, d := range des {
		n := d.Name()
		if w.ours[n] || slices.ContainsFunc(w.dbs(), func(r *Repo) bool {
			switch r.classify(n) {
			case layout.Package, layout.Signature, layout.Database, layout.DatabaseLink, layout.DatabaseOld,
				layout.DatabaseLock, layout.Own, layout.Temporary, layout.LastUpdate:
				return true
			}
			return false
		}) {
			continue
		}
		return fmt.Errorf("%s appeared in the repository directory: not a package file name", n)
	}
	return nil
}

// settle ends every hostile change, then requires update and check
// --repair to leave every database of the directory clean and real pacman
// to read them as they say.
func (w *world) settle() error {
	w.finishUploads()
	for n := range w.ours {
		// What the test deletes is lost by its own hand (a file it made
		// may have been replaced by a package and registered since).
		if sha, err := sha256File(filepath.Join(w.dir, n)); err == nil {
			w.excused[sha] = true
		}
		os.Remove(filepath.Join(w.dir, n))
		delete(w.ours, n)
	}
	var before [][]repodb.Entry
	for _, r := range w.dbs() {
		es, err := entriesOf(r)
		if err != nil {
			return fmt.Errorf("the database %s cannot be read: %w", r.opts.DB.Name, err)
		}
		before = append(before, es)
	}
	for _, r := range w.dbs() {
		if err := w.settleOne(r); err != nil {
			return err
		}
	}
	w.removes = [2][]string{}
	if err := w.verify(before); err != nil {
		return err
	}
	w.settles++
	if w.settles%2 == 1 {
		return w.pacmanAgrees()
	}
	return nil
}

// settleOne runs update and check --repair on r and requires check to be
// clean, but for the second files of registered versions it reports: each
// must be one, and is deleted, as the user would, before check runs again.
// Beside another database, update must be refused and change nothing, and
// check must say why.
func (w *world) settleOne(r *Repo) error {
	db := r.opts.DB.Name
	if w.refuses(r) {
		return w.settleShared(r)
	}
	if _, err := r.Update(ctx, nil, Request{}); err != nil && !w.refusedBackup(err) {
		var refused *RefusedError
		if !errors.As(err, &refused) {
			return fmt.Errorf("update %s: %w", db, err)
		}
		if _, err := r.Update(ctx, nil, Request{Force: true}); err != nil && !w.refusedBackup(err) {
			return fmt.Errorf("update %s --force: %w", db, err)
		}
	}
	var none *NoDatabaseError
	if _, err := r.Check(ctx, true); errors.As(err, &none) {
		return nil // nothing was ever registered
	} else if err != nil {
		return fmt.Errorf("check %s --repair: %w", db, err)
	}
	rep, err := r.Check(ctx, false)
	if err != nil {
		return fmt.Errorf("check %s: %w", db, err)
	}
	duplicates := 0
	for _, f := range rep.Findings {
		if f.Kind != FindDuplicate {
			return fmt.Errorf("check %s after update and repair: %s %s: %s", db, f.Kind, f.Path, f.Detail)
		}
		if err := w.isDuplicate(r, f.Path); err != nil {
			return fmt.Errorf("check %s after update and repair: %s %s: %w", db, f.Kind, f.Path, err)
		}
		if sha, err := sha256File(f.Path); err == nil {
			w.excused[sha] = true // deleted by the user's hand
		}
		os.Remove(f.Path)
		duplicates++
	}
	if duplicates == 0 {
		return nil
	}
	if rep, err = r.Check(ctx, false); err != nil {
		return fmt.Errorf("check %s: %w", db, err)
	}
	for _, f := range rep.Findings {
		return fmt.Errorf("check %s after deleting the second files of registered versions: %s %s: %s", db, f.Kind, f.Path, f.Detail)
	}
	return nil
}

// isDuplicate: path is a package file the test built of a version r
// registers as another file, with other content.
func (w *world) isDuplicate(r *Repo, path string) error {
	sha, err := sha256File(path)
	if err != nil {
		return err
	}
	m, ok := w.made[sha]
	if !ok {
		return errors.New("not a package the test built")
	}
	es, err := entriesOf(r)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Name == m.name && version.Compare(e.Version, m.ver) == 0 && e.Filename != filepath.Base(path) && e.SHA256Sum != sha {
			return nil
		}
	}
	return fmt.Errorf("holds %s %s, and no other file of that version is registered", m.name, m.ver)
}

// settleShared: beside another database, update of r is refused and
// changes nothing, and check names the other database.
func (w *world) settleShared(r *Repo) error {
	db := r.opts.DB.Name
	w.refusing = r
	defer func() { w.refusing = nil }()
	snap := w.snapshot()
	_, err := r.Update(ctx, nil, Request{})
	if err := w.refusedIfShared(r, err); err != nil {
		return fmt.Errorf("update %s: %w", db, err)
	}
	if err := w.unchangedSince(snap); err != nil {
		return fmt.Errorf("update %s: %w", db, err)
	}
	var none *NoDatabaseError
	rep, err := r.Check(ctx, false)
	if errors.As(err, &none) {
		return nil
	} else if err != nil {
		return fmt.Errorf("check %s: %w", db, err)
	}
	if !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Kind == FindSharedDirectory }) {
		return fmt.Errorf("check %s beside another database: no %s finding in %v", db, FindSharedDirectory, rep.Findings)
	}
	return nil
}

// pacmanAgrees: real pacman syncs the databases of the directory and
// lists exactly the registered packages of each.
func (w *world) pacmanAgrees() error {
	repos := map[string]string{}
	want := map[string][]string{}
	for _, r := range w.dbs() {
		es, err := entriesOf(r)
		if err != nil || len(es) == 0 {
			continue
		}
		repos[r.opts.DB.Name] = w.dir
		for _, e := range es {
			want[r.opts.DB.Name] = append(want[r.opts.DB.Name], e.Name+" "+e.Version)
		}
	}
	if len(repos) == 0 {
		return nil
	}
	pm := testutil.NewPacman(w.t, repos)
	if out, err := pm.Run("-Syy"); err != nil {
		return fmt.Errorf("pacman -Syy: %v\n%s", err, out)
	}
	for db, names := range want {
		got := pm.Sync(db)
		slices.Sort(got)
		slices.Sort(names)
		if !slices.Equal(got, names) {
			return fmt.Errorf("pacman -Sl %s lists %q, the database %q", db, got, names)
		}
	}
	return nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

package repo

// TestStateful runs random sequences of operations on a repository (add by
// copy, move and link, sources that are links or carry names that are not
// package names, remove, update, reset, check --repair, several writers at
// once in separate processes, writers killed at a crash point or after a
// random delay) interleaved with hostile changes to the directory (uploads
// in progress and completed, garbage with package names, links into and out
// of the directory, a registered file replaced behind pacrepo's back, a
// second database's name), against a model of what the repository must
// hold. After every step it checks from outside, reading the database and
// the directories:
//
//   - invariant 1: every entry names a present file with its size and
//     SHA-256;
//   - nothing accepted is lost: every package content pacrepo accepted (an
//     add that succeeded, or one it registered) is still in the repository
//     or the backup directory, unless the user removed that name, or (when
//     retired files are deleted) another file of the name was registered;
//   - an entry is never dropped while its file is present and intact
//     (except by remove);
//   - pacrepo creates nothing in the directory but package file names;
//
// and every few steps it settles the directory (uploads complete, garbage
// gone), runs update and check --repair, and requires check to be clean
// and real pacman to list exactly the registered packages.
//
// A failure prints the seed, the retirement mode and a shortened sequence
// of steps that reproduces it. Knobs:
//
//	PACREPO_STATEFUL_SEED=N     run this seed (default: from the clock, printed)
//	PACREPO_STATEFUL_STEPS=N    steps per sequence (default 60; 20 with -short)
//	PACREPO_STATEFUL_RUNS=N     sequences, one per retirement mode (default 3)
//	PACREPO_STATEFUL_REPLAY=F   replay the steps in file F (one a line, as printed)
//	PACREPO_STATEFUL_SKIP=A,B   leave operations A and B out (to look past a known bug)
//
// A long hunt:
//
//	PACREPO_STATEFUL_RUNS=60 PACREPO_STATEFUL_STEPS=300 go test ./internal/repo -run TestStateful -timeout 2h

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// step is one operation of a sequence. Every field is chosen by the
// generator, so that a printed step replays the same operation.
type step struct {
	Op      string
	Name    string // package name
	Ver     string // package version
	Variant int    // another build of the same name and version
	Arg     string // crash point, child operation, file name: op-specific
	Delay   int    // milliseconds, for kills
}

func (s step) String() string {
	return fmt.Sprintf("%s name=%s ver=%s variant=%d arg=%s delay=%d", s.Op, s.Name, s.Ver, s.Variant, s.Arg, s.Delay)
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
		"add", "add", "add-move", "add-link", "add-via-link", "add-self-link", "add-badname",
		"remove", "update", "update", "reset", "repair",
		"dropin", "dropin", "upload-start", "upload-finish", "garbage", "link-in", "link-out",
		"replace-registered", "second-db", "crash", "kill", "concurrent",
	}
	badNames = []string{"x.tar.zst", "noext", "p.pkg.tar.zst.part", "p.pkg.tar.zst~", ".hidden.pkg.tar.zst", "test.db.tar.zst", "up.tmp"}
)

func generate(rng *rand.Rand, n int, skip []string) []step {
	ops := slices.DeleteFunc(slices.Clone(statefulOps), func(op string) bool { return slices.Contains(skip, op) })
	steps := make([]step, n)
	for i := range steps {
		s := step{
			Op:      ops[rng.IntN(len(ops))],
			Name:    statefulNames[rng.IntN(len(statefulNames))],
			Ver:     statefulVersions[rng.IntN(len(statefulVersions))],
			Variant: rng.IntN(2),
			Delay:   rng.IntN(40),
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

// retirement modes a sequence runs in.
var statefulModes = []string{"backup", "keep", "delete", "backup-is-repo"}

func TestStateful(t *testing.T) {
	steps := envInt("PACREPO_STATEFUL_STEPS", 60)
	runs := envInt("PACREPO_STATEFUL_RUNS", 3)
	if testing.Short() {
		steps, runs = 20, 2
	}
	if f := os.Getenv("PACREPO_STATEFUL_REPLAY"); f != "" {
		mode, seq := readReplay(t, f)
		if err := runSequence(t, mode, seq); err != nil {
			t.Fatalf("replay of %s: %v", f, err)
		}
		return
	}
	seed := testutil.Seed(t, "PACREPO_STATEFUL_SEED")
	total := 0
	for run := range runs {
		rng := rand.New(rand.NewPCG(seed, uint64(run)))
		mode := statefulModes[(int(seed%97)+run)%len(statefulModes)]
		seq := generate(rng, steps, strings.Split(os.Getenv("PACREPO_STATEFUL_SKIP"), ","))
		err := runSequence(t, mode, seq)
		total += len(seq)
		if err == nil {
			continue
		}
		short, shortErr, reliable := shrink(t, mode, seq, err)
		var b strings.Builder
		for _, s := range short {
			fmt.Fprintln(&b, s)
		}
		t.Fatalf("seed %d, run %d, mode %s: %v\n\nshortened to %d of %d steps (%s), failing with: %v\nsave the lines below to a file F and replay with\nPACREPO_STATEFUL_REPLAY=F go test ./internal/repo -run TestStateful\n\nmode %s\n%s",
			seed, run, mode, err, len(short), len(seq), reliable, shortErr, mode, b.String())
	}
	t.Logf("%d steps in %d sequences, no invariant broken", total, runs)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func readReplay(t *testing.T, file string) (string, []step) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mode := "delete"
	var seq []step
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m, ok := strings.CutPrefix(line, "mode "); ok {
			mode = m
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
	return mode, seq
}

// shrink removes steps while the sequence still fails. Steps that kill
// processes do not always fail the same way, so each candidate is tried a
// few times; the result says how often the shortened sequence failed.
func shrink(t *testing.T, mode string, seq []step, want error) ([]step, error, string) {
	fails := func(s []step) bool {
		for range 3 {
			if err := runSequence(t, mode, s); err != nil && failureKind(err) == failureKind(want) {
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
		if err := runSequence(t, mode, cur); err != nil && failureKind(err) == failureKind(want) {
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
		"not a package file name", "check after update", "pacman -Sl", "cannot be read"} {
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
	base    string // holds repo/, backup/, src/
	dir     string
	backup  string // where retired files go ("" when deleted or kept)
	mode    string
	step    int
	ordinal int // for unique source directories

	accepted   map[string]acceptance // content SHA-256 -> when and what
	removedAt  map[string][]int      // name -> steps that removed it
	registered map[string][]int      // "name sha" -> steps that saw it registered
	excused    map[string]bool       // contents the test itself destroyed
	uploads    map[string]string     // upload in progress (file in dir) -> complete package
	ours       map[string]bool       // names in the directory the test made (hostile files)
	settles    int
}

type acceptance struct {
	name string
	step int
}

func newWorld(t testing.TB, mode string) *world {
	base := t.TempDir()
	w := &world{t: t, base: base, dir: filepath.Join(base, "repo"), mode: mode,
		accepted: map[string]acceptance{}, removedAt: map[string][]int{}, registered: map[string][]int{},
		excused: map[string]bool{}, uploads: map[string]string{}, ours: map[string]bool{}}
	for _, d := range []string{w.dir, filepath.Join(base, "src")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{DB: repodb.Location{Dir: w.dir, Name: "test", Ext: ".tar.zst"}, LockTimeout: time.Minute}
	switch mode {
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
	return w
}

// runSequence runs seq on a new repository and returns the first broken
// invariant.
func runSequence(t testing.TB, mode string, seq []step) error {
	w := newWorld(t, mode)
	for i, s := range seq {
		w.step = i
		before, err := w.entries()
		if err != nil {
			return fmt.Errorf("step %d (%s): before: %w", i, s, err)
		}
		removes, err := w.apply(s)
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", i, s, err)
		}
		if err := w.verify(s, before, removes); err != nil {
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
	p, err := pkggen.MakePackage(dir, pkggen.Spec{Name: s.Name, Version: s.Ver, NumFiles: 1 + s.Variant, FileSize: 16 + 7*s.Variant})
	if err != nil {
		return "", "", err
	}
	sha, err := sha256File(p)
	return p, sha, err
}

// apply runs one step. It returns the names the step may have removed
// (remove, and processes that ran remove and may have been killed).
// Errors pacrepo returns for the operation are not failures: refusing is
// often right; the invariants judge.
func (w *world) apply(s step) (removes []string, err error) {
	r := w.r
	switch s.Op {
	case "add", "add-move", "add-link":
		p, sha, err := w.pkg(s)
		if err != nil {
			return nil, err
		}
		mode := map[string]AddMode{"add": Copy, "add-move": Move, "add-link": Link}[s.Op]
		if _, err := r.Add(ctx, []string{p}, AddOptions{Mode: mode}); err == nil {
			w.accept(sha, s.Name)
			if mode == Copy {
				os.Remove(p) // the builder cleans up: the repository holds the only copy
			}
		}
	case "add-via-link":
		p, sha, err := w.pkg(s)
		if err != nil {
			return nil, err
		}
		link := filepath.Join(w.base, "src", fmt.Sprintf("via-%d.pkg.tar.zst", w.ordinal))
		rel, _ := filepath.Rel(filepath.Dir(link), p)
		os.Symlink(rel, link)
		if _, err := r.Add(ctx, []string{link}, AddOptions{Mode: Move}); err == nil {
			w.accept(sha, s.Name)
		}
	case "add-self-link":
		// A source that is a link to the repository's own registered file.
		es, _ := w.entries()
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
			return nil, err
		}
		bad := filepath.Join(filepath.Dir(p), s.Arg)
		if err := os.Rename(p, bad); err != nil {
			return nil, err
		}
		if _, err := r.Add(ctx, []string{bad}, AddOptions{Mode: Copy}); err == nil {
			w.accept(sha, s.Name)
			os.Remove(bad)
		}
	case "remove":
		removes = []string{s.Name}
		r.Remove(ctx, []string{s.Name}, Request{})
	case "update":
		r.Update(ctx, nil, Request{})
	case "reset":
		r.Reset(ctx, Request{})
	case "repair":
		r.Check(ctx, true)
	case "dropin":
		// An upload that is complete: written elsewhere, renamed in.
		p, _, err := w.pkg(s)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(w.dir, filepath.Base(p))
		if _, err := os.Lstat(dst); err == nil {
			return nil, nil // never overwrite: the builder would not either
		}
		os.Rename(p, dst)
	case "upload-start":
		p, _, err := w.pkg(s)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(w.dir, filepath.Base(p))
		if _, err := os.Lstat(dst); err == nil {
			return nil, nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b[:len(b)/2], 0o644); err != nil {
			return nil, err
		}
		w.uploads[dst] = p
	case "upload-finish":
		w.finishUploads()
	case "garbage":
		name := fmt.Sprintf("%s-9-1-x86_64.pkg.tar.zst", s.Name)
		if _, err := os.Lstat(filepath.Join(w.dir, name)); err == nil {
			return nil, nil
		}
		os.WriteFile(filepath.Join(w.dir, name), []byte("not a package, just text"), 0o644)
		w.ours[name] = true
	case "link-in":
		// A link in the directory to a package outside (as a user might make).
		p, _, err := w.pkg(s)
		if err != nil {
			return nil, err
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
		es, _ := w.entries()
		for _, e := range es {
			if e.Name != s.Name {
				continue
			}
			p, err := pkggen.MakePackage(filepath.Join(w.base, "src"), pkggen.Spec{Name: e.Name, Version: e.Version, NumFiles: 5, FileSize: 99})
			if err != nil {
				return nil, err
			}
			w.excused[e.SHA256Sum] = true
			os.Rename(p, filepath.Join(w.dir, e.Filename))
		}
	case "second-db":
		os.WriteFile(filepath.Join(w.dir, "other.db.tar.zst"), []byte("another repository's database"), 0o644)
		w.ours["other.db.tar.zst"] = true
	case "crash":
		op, point, _ := strings.Cut(s.Arg, ":")
		args, shas, removed := w.childArgs(s, op)
		removes = removed
		cmd := helper(r, op, args, CrashEnv+"="+point)
		cmd.Run()
		w.acceptRegistered(shas, s.Name)
	case "kill":
		args, shas, removed := w.childArgs(s, s.Arg)
		removes = removed
		cmd := helper(r, s.Arg, args)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(s.Delay) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		w.acceptRegistered(shas, s.Name)
	case "concurrent":
		// Three writers at once: add, update and remove.
		addArgs, addSHAs, _ := w.childArgs(s, "add")
		rm := statefulNames[(slices.Index(statefulNames, s.Name)+1)%len(statefulNames)]
		removes = []string{rm}
		cmds := []*exec.Cmd{helper(r, "add", addArgs), helper(r, "update", nil), helper(r, "remove", []string{rm})}
		for _, c := range cmds {
			if err := c.Start(); err != nil {
				return nil, err
			}
		}
		for _, c := range cmds {
			c.Wait()
		}
		if cmds[0].ProcessState.Success() {
			w.acceptRegistered(addSHAs, s.Name)
		}
	default:
		return nil, fmt.Errorf("unknown step %q", s.Op)
	}
	return removes, nil
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
	es, _ := w.entries()
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

func (w *world) entries() ([]repodb.Entry, error) {
	es, err := repodb.Read(w.r.opts.DB.DBPath(), repodb.ReadOptions{})
	if errors.Is(err, os.ErrNotExist) && repodb.KindOf(err) == 0 {
		return nil, nil
	}
	return es, err
}

// verify checks the invariants after one step.
func (w *world) verify(s step, before []repodb.Entry, removes []string) error {
	es, err := w.entries()
	if err != nil {
		return fmt.Errorf("the database cannot be read: %w", err)
	}
	now := map[string]repodb.Entry{}
	for _, e := range es {
		now[e.Name] = e
		w.registered[e.Name+" "+e.SHA256Sum] = append(w.registered[e.Name+" "+e.SHA256Sum], w.step)
		if _, ok := w.accepted[e.SHA256Sum]; !ok {
			w.accepted[e.SHA256Sum] = acceptance{name: e.Name, step: w.step}
		}
		if w.r.classify(e.Filename) != layout.Package {
			return fmt.Errorf("entry %s names %q, not a package file name", e.Name, e.Filename)
		}
		path := filepath.Join(w.dir, e.Filename)
		sha, err := sha256File(path)
		if err != nil {
			return fmt.Errorf("invariant 1: entry %s %s: %s: %w", e.Name, e.Version, e.Filename, err)
		}
		fi, _ := os.Stat(path)
		if sha != e.SHA256Sum || fi.Size() != e.CSize {
			if w.excused[e.SHA256Sum] {
				continue // the test replaced it; the next update refreshes it
			}
			return fmt.Errorf("invariant 1: entry %s %s: %s does not match its size or SHA-256", e.Name, e.Version, e.Filename)
		}
	}
	for _, n := range removes {
		if _, still := now[n]; !still {
			w.removedAt[n] = append(w.removedAt[n], w.step)
		}
	}
	// An entry dropped by anything but remove must have lost its file.
	for _, e := range before {
		if _, ok := now[e.Name]; ok || slices.Contains(removes, e.Name) {
			continue
		}
		if sha, err := sha256File(filepath.Join(w.dir, e.Filename)); err == nil && sha == e.SHA256Sum {
			return fmt.Errorf("%s %s was unregistered though its file %s is present and intact", e.Name, e.Version, e.Filename)
		}
	}
	present, err := w.presentContents()
	if err != nil {
		return err
	}
	for sha, a := range w.accepted {
		if present[sha] || w.excused[sha] || w.lossExcused(sha, a) {
			continue
		}
		return fmt.Errorf("package %s accepted at step %d (sha256 %.12s) is lost", a.name, a.step, sha)
	}
	return w.onlyPackageNamesCreated()
}

// lossExcused: the user removed the name since, or (retired files being
// deleted) another file of the name was registered since.
func (w *world) lossExcused(sha string, a acceptance) bool {
	for _, st := range w.removedAt[a.name] {
		if st >= a.step {
			return true
		}
	}
	if w.mode != "delete" {
		return false
	}
	for key, steps := range w.registered {
		name, other, _ := strings.Cut(key, " ")
		if name == a.name && other != sha && slices.ContainsFunc(steps, func(st int) bool { return st >= a.step }) {
			return true
		}
	}
	return false
}

// presentContents is every package content in the repository, the backup
// directory and the test's sources (which link-mode entries point to).
func (w *world) presentContents() (map[string]bool, error) {
	present := map[string]bool{}
	err := filepath.Walk(w.base, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil // vanished meanwhile, or unreadable: not present
		}
		if fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		if sha, err := sha256File(path); err == nil {
			present[sha] = true
		}
		return nil
	})
	return present, err
}

// onlyPackageNamesCreated: every file in the directory is a package file
// name, a signature, the database's (lastupdate too), ours (dot-files), or
// one the test made.
func (w *world) onlyPackageNamesCreated() error {
	des, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	for _, d := range des {
		n := d.Name()
		switch w.r.classify(n) {
		case layout.Package, layout.Signature, layout.Database, layout.DatabaseLink, layout.DatabaseOld,
			layout.DatabaseLock, layout.Own, layout.Temporary, layout.LastUpdate:
			continue
		}
		if w.ours[n] {
			continue
		}
		return fmt.Errorf("%s appeared in the repository directory: not a package file name", n)
	}
	return nil
}

// settle ends every hostile change, then requires update and check
// --repair to leave a clean repository that real pacman reads as the
// database says.
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
	// A backup directory that is the repository refuses every retirement,
	// after the database is written: that error is the expected one.
	refusedBackup := func(err error) bool {
		return w.mode == "backup-is-repo" && strings.Contains(err.Error(), "is the repository directory")
	}
	if _, err := w.r.Update(ctx, nil, Request{}); err != nil && !refusedBackup(err) {
		var refused *RefusedError
		if !errors.As(err, &refused) {
			return fmt.Errorf("update: %w", err)
		}
		if _, err := w.r.Update(ctx, nil, Request{Force: true}); err != nil && !refusedBackup(err) {
			return fmt.Errorf("update --force: %w", err)
		}
	}
	var none *NoDatabaseError
	if _, err := w.r.Check(ctx, true); errors.As(err, &none) {
		return nil // nothing was ever registered
	} else if err != nil {
		return fmt.Errorf("check --repair: %w", err)
	}
	rep, err := w.r.Check(ctx, false)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	for _, f := range rep.Findings {
		return fmt.Errorf("check after update and repair: %s %s: %s", f.Kind, f.Path, f.Detail)
	}
	if err := w.verify(step{Op: "settle"}, nil, nil); err != nil {
		return err
	}
	w.settles++
	if w.settles%2 == 1 {
		return w.pacmanAgrees()
	}
	return nil
}

// pacmanAgrees: real pacman syncs the repository and lists exactly the
// registered packages.
func (w *world) pacmanAgrees() error {
	es, err := w.entries()
	if err != nil || len(es) == 0 {
		return err
	}
	pm := testutil.NewPacman(w.t, map[string]string{"test": w.dir})
	if out, err := pm.Run("-Syy"); err != nil {
		return fmt.Errorf("pacman -Syy: %v\n%s", err, out)
	}
	got := pm.Sync("test")
	var want []string
	for _, e := range es {
		want = append(want, e.Name+" "+e.Version)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("pacman -Sl lists %q, the database %q", got, want)
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

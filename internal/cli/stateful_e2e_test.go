package cli_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// TestStatefulStores runs one stateful test body against both stores, a
// directory (--repo DIR/x.db.tar.zst) and a bucket of a real S3-compatible
// server (--repo s3://bucket/PREFIX/x.db.tar.zst): seeded random sequences
// of pacrepo commands (add, remove, check --repair, adds at once, an add
// killed with SIGKILL after a random delay), each sequence in a new
// repository. After every step it checks, reading the store from outside:
//
//   - every entry of the database pacman reads names a package that is
//     there, with the entry's size;
//   - nothing accepted is lost: every package content an add was accepted
//     for, or a database registered, is still in the store, unless its
//     name was removed since or another file of the name was registered;
//   - liveness: an add of a valid package that nothing else is writing
//     beside exits 0 and registers it;
//
// and at the end check --repair leaves a repository check finds clean. A
// failure prints the seed and a shortened sequence to replay. Knobs:
//
//	PACREPO_STORES_SEED=N     run this seed (default: from the clock, printed)
//	PACREPO_STORES_STEPS=N    steps per sequence (default 10)
//	PACREPO_STORES_RUNS=N     sequences per store (default 1)
//	PACREPO_STORES_REPLAY=F   replay the steps in file F (one a line, as printed)
//
// A long hunt:
//
//	PACREPO_STORES_RUNS=30 PACREPO_STORES_STEPS=60 go test ./internal/cli -run TestStatefulStores -timeout 1h
func TestStatefulStores(t *testing.T) {
	steps, runs := storesEnvInt("PACREPO_STORES_STEPS", 10), storesEnvInt("PACREPO_STORES_RUNS", 1)
	var replay []storeStep
	if f := os.Getenv("PACREPO_STORES_REPLAY"); f != "" {
		replay = readStoreSteps(t, f)
	}
	seed := testutil.Seed(t, "PACREPO_STORES_SEED")
	pacrepo := pacrepoCommand(t)
	for _, kind := range []string{"dir", "bucket"} {
		t.Run(kind, func(t *testing.T) {
			var open func(run int) store
			env := isolatedEnv(t)
			switch kind {
			case "dir":
				open = func(int) store { return newDirStore(t) }
			case "bucket":
				srv := testutil.StartS3(t, "farm")
				env = append(env, srv.Env()...)
				srv.SetEnv(t) // for the test's own reads of the bucket
				b, err := objstore.Open(context.Background(), objstore.Config{Bucket: "farm", Endpoint: srv.Endpoint})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				open = func(int) store { n++; return &bucketStore{b: b, prefix: fmt.Sprintf("run%d/x86_64", n)} }
			}
			runSeq := func(run int, seq []storeStep) error {
				w := &storeWorld{t: t, s: open(run), pacrepo: pacrepo, env: env, src: t.TempDir(),
					accepted: map[string]storeAcceptance{}, removedAt: map[string][]int{}, registered: map[string][]int{}}
				return w.run(seq)
			}
			if replay != nil {
				if err := runSeq(0, replay); err != nil {
					t.Fatalf("replay: %v", err)
				}
				return
			}
			for run := range runs {
				seq := generateStoreSteps(rand.New(rand.NewPCG(seed, uint64(run))), steps)
				err := runSeq(run, seq)
				if err == nil {
					continue
				}
				short := shrinkStoreSteps(seq, err, func(s []storeStep) error { return runSeq(run, s) })
				var b strings.Builder
				for _, s := range short {
					fmt.Fprintln(&b, s)
				}
				t.Fatalf("seed %d, run %d, %s: %v\n\nrun it again with PACREPO_STORES_SEED=%d PACREPO_STORES_STEPS=%d PACREPO_STORES_RUNS=%d,\n"+
					"or save the %d lines below to a file F and replay with\nPACREPO_STORES_REPLAY=F go test ./internal/cli -run 'TestStatefulStores/%s'\n\n%s",
					seed, run, kind, err, seed, steps, run+1, len(short), kind, b.String())
			}
		})
	}
}

func storesEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// storeStep is one command of a sequence.
type storeStep struct {
	Op    string // add, remove, repair, concurrent, kill
	Name  string
	Ver   string
	Delay int // milliseconds before the kill
}

func (s storeStep) String() string {
	return fmt.Sprintf("%s name=%s ver=%s delay=%d", s.Op, s.Name, s.Ver, s.Delay)
}

func readStoreSteps(t *testing.T, file string) []storeStep {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seq []storeStep
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		s := storeStep{Op: fields[0]}
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "name":
				s.Name = v
			case "ver":
				s.Ver = v
			case "delay":
				s.Delay, _ = strconv.Atoi(v)
			}
		}
		seq = append(seq, s)
	}
	return seq
}

var (
	storeNames    = []string{"a", "b", "c", "lib-d"}
	storeVersions = []string{"1-1", "2-1", "2-2", "1:0.5-1"}
	storeOps      = []string{"add", "add", "add", "remove", "repair", "concurrent", "kill", "kill"}
)

func generateStoreSteps(rng *rand.Rand, n int) []storeStep {
	seq := make([]storeStep, n)
	for i := range seq {
		seq[i] = storeStep{Op: storeOps[rng.IntN(len(storeOps))], Name: storeNames[rng.IntN(len(storeNames))],
			Ver: storeVersions[rng.IntN(len(storeVersions))], Delay: rng.IntN(300)}
	}
	return seq
}

// shrinkStoreSteps removes steps while the sequence still fails the same
// way (twice tried: kills do not always land on the same instant).
func shrinkStoreSteps(seq []storeStep, want error, run func([]storeStep) error) []storeStep {
	// The kind of a failure: the words before the first colon of what the
	// step said ("liveness", "lost", "invariant 1", ...).
	kind := func(err error) string {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		k, _, _ := strings.Cut(err.Error(), ":")
		return k
	}
	fails := func(s []storeStep) bool {
		for range 2 {
			if err := run(s); err != nil && kind(err) == kind(want) {
				return true
			}
		}
		return false
	}
	cur := slices.Clone(seq)
	for chunk := len(cur) / 2; chunk >= 1; chunk /= 2 {
		for i := 0; i+chunk <= len(cur); {
			if cand := slices.Concat(cur[:i], cur[i+chunk:]); len(cand) > 0 && fails(cand) {
				cur = cand
				continue
			}
			i += chunk
		}
	}
	return cur
}

// store is where a repository lies, as seen from outside pacrepo.
type store interface {
	repo() string // the --repo argument
	// entries of the database pacman reads (none before the first commit)
	entries() ([]repodb.Entry, error)
	// size of the package file filename, or an error when it is not there
	size(filename string) (int64, error)
	// contents: the SHA-256 of every package file the store holds, retired
	// ones included (a backup directory, objects not yet collected)
	contents() (map[string]bool, error)
}

type dirStore struct{ dir string }

func newDirStore(t *testing.T) *dirStore { return &dirStore{dir: filepath.Join(t.TempDir(), "repo")} }

func (d *dirStore) repo() string { return filepath.Join(d.dir, "x.db.tar.zst") }

func (d *dirStore) entries() ([]repodb.Entry, error) {
	es, err := repodb.Read(filepath.Join(d.dir, "x.db"), repodb.ReadOptions{})
	if errors.Is(err, os.ErrNotExist) && repodb.KindOf(err) == 0 {
		return nil, nil
	}
	return es, err
}

func (d *dirStore) size(filename string) (int64, error) {
	fi, err := os.Stat(filepath.Join(d.dir, filename))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (d *dirStore) contents() (map[string]bool, error) {
	m := map[string]bool{}
	// The repository and its default backup directory.
	for _, dir := range []string{d.dir, filepath.Join(d.dir, "backup")} {
		des, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			if f, err := os.Open(filepath.Join(dir, de.Name())); err == nil {
				if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
					m[hashOf(f)] = true
				}
				f.Close()
			}
		}
	}
	return m, nil
}

type bucketStore struct {
	b      *objstore.Bucket
	prefix string
}

func (s *bucketStore) repo() string { return "s3://" + s.b.Name() + "/" + s.prefix + "/x.db.tar.zst" }

func (s *bucketStore) entries() ([]repodb.Entry, error) {
	body, _, err := s.b.Get(context.Background(), s.prefix+"/x.db")
	if err != nil {
		if strings.Contains(err.Error(), objstore.ErrNotFound.Error()) {
			return nil, nil // no commit yet
		}
		return nil, err
	}
	defer body.Close()
	f, err := os.CreateTemp("", "pacrepo-stores-*.db.tar.zst")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, body)
	f.Close()
	if err != nil {
		return nil, err
	}
	return repodb.Read(f.Name(), repodb.ReadOptions{})
}

func (s *bucketStore) size(filename string) (int64, error) {
	o, err := s.b.Head(context.Background(), s.prefix+"/"+filename)
	return o.Size, err
}

func (s *bucketStore) contents() (map[string]bool, error) {
	objs, err := s.b.List(context.Background(), s.prefix+"/")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, o := range objs {
		if (layout.Names{}).Classify(path.Base(o.Key)) != layout.Package || strings.Contains(o.Key, "/.pacrepo/") {
			continue
		}
		body, _, err := s.b.Get(context.Background(), o.Key)
		if err != nil {
			continue // collected meanwhile: not there
		}
		m[hashOf(body)] = true
		body.Close()
	}
	return m, nil
}

func hashOf(r io.Reader) string {
	h := sha256.New()
	io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}

type storeAcceptance struct {
	name string
	step int
}

// storeWorld is one sequence on one store and its model.
type storeWorld struct {
	t       *testing.T
	s       store
	pacrepo string
	env     []string
	src     string
	step    int

	accepted   map[string]storeAcceptance // content SHA-256 -> when and what
	removedAt  map[string][]int           // name -> steps that removed it
	registered map[string][]int           // "name sha" -> steps that saw it registered
	packages   map[string]string          // "name ver" -> the package file (one content per name and version)
}

func (w *storeWorld) run(seq []storeStep) error {
	w.packages = map[string]string{}
	for i, s := range seq {
		w.step = i
		if err := w.apply(s); err != nil {
			return fmt.Errorf("step %d (%s): %w", i, s, err)
		}
		if err := w.verify(); err != nil {
			return fmt.Errorf("step %d (%s): %w", i, s, err)
		}
	}
	if len(w.accepted) == 0 {
		return nil // nothing was ever registered: nothing to check
	}
	if out, err := w.pacrepoRun("check", "--repair"); err != nil {
		return fmt.Errorf("check --repair at the end: %v\n%s", err, out)
	}
	if out, err := w.pacrepoRun("check"); err != nil {
		return fmt.Errorf("check after repair at the end: %v\n%s", err, out)
	}
	return w.verify()
}

func (w *storeWorld) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(w.pacrepo, append([]string{"--repo", w.s.repo()}, args...)...)
	cmd.Env = w.env
	return cmd
}

func (w *storeWorld) pacrepoRun(args ...string) (string, error) {
	out, err := w.cmd(args...).CombinedOutput()
	return string(out), err
}

// pkg is the package file of name and version (built once: a package file
// is written once, and another build under its name would rightly be
// refused) and its SHA-256.
func (w *storeWorld) pkg(name, ver string) (string, string, error) {
	p, ok := w.packages[name+" "+ver]
	if !ok {
		var err error
		if p, err = pkggen.MakePackage(w.src, pkggen.Spec{Name: name, Version: ver, NumFiles: 2, FileSize: 64}); err != nil {
			return "", "", err
		}
		w.packages[name+" "+ver] = p
	}
	f, err := os.Open(p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	return p, hashOf(f), nil
}

func (w *storeWorld) apply(s storeStep) error {
	switch s.Op {
	case "add":
		p, sha, err := w.pkg(s.Name, s.Ver)
		if err != nil {
			return err
		}
		// Nothing else writes: a valid package must be accepted.
		if out, err := w.pacrepoRun("add", p); err != nil {
			return fmt.Errorf("liveness: add of a valid package was refused: %v\n%s", err, out)
		}
		w.accept(sha, s.Name)
		return w.mustRegister(s.Name, sha)
	case "remove":
		if _, err := w.pacrepoRun("remove", s.Name); err == nil {
			w.removedAt[s.Name] = append(w.removedAt[s.Name], w.step)
		}
	case "repair":
		w.pacrepoRun("check", "--repair")
	case "concurrent":
		// Three adds of other names at once, as builders finishing
		// together: each must be accepted.
		i := slices.Index(storeNames, s.Name)
		var cmds []*exec.Cmd
		var shas, names []string
		for k := range 3 {
			name := storeNames[(i+k)%len(storeNames)]
			p, sha, err := w.pkg(name, s.Ver)
			if err != nil {
				return err
			}
			c := w.cmd("add", p)
			if err := c.Start(); err != nil {
				return err
			}
			cmds, shas, names = append(cmds, c), append(shas, sha), append(names, name)
		}
		var errs []error
		for k, c := range cmds {
			if err := c.Wait(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", names[k], err))
				continue
			}
			w.accept(shas[k], names[k])
		}
		if len(errs) > 0 {
			return fmt.Errorf("liveness: adds at once were refused: %w", errors.Join(errs...))
		}
	case "kill":
		p, _, err := w.pkg(s.Name, s.Ver)
		if err != nil {
			return err
		}
		c := w.cmd("add", p)
		if err := c.Start(); err != nil {
			return err
		}
		time.Sleep(time.Duration(s.Delay) * time.Millisecond)
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		// Killed before or after its commit: accepted if registered (in
		// the bucket, the names pacman reads may still show the previous
		// commit until the next one).
	default:
		return fmt.Errorf("unknown step %q", s.Op)
	}
	return nil
}

func (w *storeWorld) accept(sha, name string) {
	if _, ok := w.accepted[sha]; !ok {
		w.accepted[sha] = storeAcceptance{name, w.step}
	}
}

// mustRegister: the database pacman reads registers name with content sha.
func (w *storeWorld) mustRegister(name, sha string) error {
	es, err := w.s.entries()
	if err != nil {
		return fmt.Errorf("the database cannot be read: %w", err)
	}
	if !slices.ContainsFunc(es, func(e repodb.Entry) bool { return e.Name == name && e.SHA256Sum == sha }) {
		return fmt.Errorf("liveness: add of %s exited 0 but the database pacman reads does not register it", name)
	}
	return nil
}

func (w *storeWorld) verify() error {
	es, err := w.s.entries()
	if err != nil {
		return fmt.Errorf("the database cannot be read: %w", err)
	}
	for _, e := range es {
		key := e.Name + " " + e.SHA256Sum
		w.registered[key] = append(w.registered[key], w.step)
		w.accept(e.SHA256Sum, e.Name)
		size, err := w.s.size(e.Filename)
		if err != nil {
			return fmt.Errorf("invariant 1: entry %s %s names %s: %v", e.Name, e.Version, e.Filename, err)
		}
		if size != e.CSize {
			return fmt.Errorf("invariant 1: entry %s %s names %s of %d bytes, not %d", e.Name, e.Version, e.Filename, size, e.CSize)
		}
	}
	present, err := w.s.contents()
	if err != nil {
		return err
	}
	for sha, a := range w.accepted {
		if !present[sha] && !w.lossExcused(sha, a) {
			return fmt.Errorf("lost: package %s accepted at step %d (sha256 %.12s) is gone", a.name, a.step, sha)
		}
	}
	return nil
}

// lossExcused: the name was removed since, or another file of the name
// was registered since (retired files may be deleted or collected).
func (w *storeWorld) lossExcused(sha string, a storeAcceptance) bool {
	if slices.ContainsFunc(w.removedAt[a.name], func(st int) bool { return st >= a.step }) {
		return true
	}
	for key, steps := range w.registered {
		name, other, _ := strings.Cut(key, " ")
		if name == a.name && other != sha && slices.ContainsFunc(steps, func(st int) bool { return st >= a.step }) {
			return true
		}
	}
	return false
}

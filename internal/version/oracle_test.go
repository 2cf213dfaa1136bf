package version

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// vercmpPath returns pacman's vercmp, the reference for every comparison
// (a missing one skips the test, or fails it when strict).
func vercmpPath(t testing.TB) string { return testutil.RequireTool(t, "vercmp") }

// oracleCanTake reports whether vercmp can be asked about the pair: an
// argument cannot hold a NUL byte, and vercmp prints its usage when the
// first argument is -h or --help.
func oracleCanTake(a, b string) bool {
	return !strings.ContainsRune(a, 0) && !strings.ContainsRune(b, 0) &&
		a != "-h" && a != "--help"
}

// batchScript reads NUL-separated pairs on stdin and runs vercmp on each,
// one result per line. One shell per batch keeps Go from forking a process
// per pair; vercmp itself is a small static binary and starts fast.
const batchScript = `while IFS= read -r -d '' a && IFS= read -r -d '' b; do "$0" "$a" "$b" || exit 1; done`

// runVercmp returns vercmp's answer (its sign) for every pair, running one
// batch shell per CPU.
func runVercmp(t testing.TB, vercmp string, pairs [][2]string) []int {
	t.Helper()
	results := make([]int, len(pairs))
	workers := runtime.NumCPU()
	chunk := (len(pairs) + workers - 1) / workers
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(pairs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = runVercmpBatch(vercmp, pairs[lo:hi], results[lo:hi])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return results
}

func runVercmpBatch(vercmp string, pairs [][2]string, results []int) error {
	got, err := oracleResults(exec.Command("bash", "-c", batchScript, vercmp), pairsInput(pairs), pairs)
	if err != nil {
		return fmt.Errorf("vercmp batch: %w", err)
	}
	copy(results, got)
	return nil
}

// oracleResults runs cmd with the pairs on stdin and reads one answer a
// line, its sign.
func oracleResults(cmd *exec.Cmd, in *bytes.Buffer, pairs [][2]string) ([]int, error) {
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(pairs) {
		return nil, fmt.Errorf("%d results for %d pairs", len(lines), len(pairs))
	}
	results := make([]int, len(pairs))
	for i, line := range lines {
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("%q %q: printed %q: %w", pairs[i][0], pairs[i][1], line, err)
		}
		results[i] = sign(n)
	}
	return results, nil
}

// alpmVercmp compiles testdata/alpm_vercmp.c, libalpm's alpm_pkg_vercmp
// over NUL-separated pairs on stdin, and returns the program's path.
// vercmp forks a process a pair; this takes thousands in one.
func alpmVercmp(t testing.TB) string {
	t.Helper()
	gcc := testutil.RequireTool(t, "gcc")
	bin := filepath.Join(t.TempDir(), "alpm_vercmp")
	out, err := exec.Command(gcc, "-O2", "-o", bin, filepath.Join("testdata", "alpm_vercmp.c"), "-lalpm").CombinedOutput()
	if err != nil {
		testutil.Unavailable(t, "libalpm (Debian's libalpm-dev): gcc: %v\n%s", err, out)
	}
	return bin
}

// runAlpmVercmp returns libalpm's answer (its sign) for every pair.
func runAlpmVercmp(t testing.TB, bin string, pairs [][2]string) []int {
	t.Helper()
	results, err := oracleResults(exec.Command(bin), pairsInput(pairs), pairs)
	if err != nil {
		t.Fatalf("alpm_vercmp: %v", err)
	}
	return results
}

// TestCompareCasesMatchVercmp confirms the hand-written expectations of
// compareCases with the reference, the vercmp tool, and that libalpm's
// function, the oracle of the generated pairs, answers as the tool does.
func TestCompareCasesMatchVercmp(t *testing.T) {
	vercmp := vercmpPath(t)
	var pairs [][2]string
	var wants []int
	for _, c := range compareCases {
		a, b := cString(c.a), cString(c.b)
		if oracleCanTake(a, b) {
			pairs = append(pairs, [2]string{a, b}, [2]string{b, a})
			wants = append(wants, c.want, -c.want)
		}
	}
	got := runVercmp(t, vercmp, pairs)
	alpm := runAlpmVercmp(t, alpmVercmp(t), pairs)
	for i, p := range pairs {
		if got[i] != wants[i] {
			t.Errorf("vercmp %q %q = %d, the table says %d", p[0], p[1], got[i], wants[i])
		}
		if alpm[i] != got[i] {
			t.Errorf("alpm_pkg_vercmp(%q, %q) = %d, vercmp says %d", p[0], p[1], alpm[i], got[i])
		}
	}
}

// TestCompareMatchesVercmp compares Compare with libalpm's
// alpm_pkg_vercmp on many generated pairs. The generator is seeded, so a
// failure reproduces.
func TestCompareMatchesVercmp(t *testing.T) {
	oracle := alpmVercmp(t)
	n := 100000
	if testing.Short() {
		n = 10000
	}
	rng := rand.New(rand.NewPCG(20240601, 6))
	pairs := make([][2]string, 0, n)
	for len(pairs) < n {
		a, b := versionPair(rng)
		if oracleCanTake(a, b) {
			pairs = append(pairs, [2]string{a, b})
		}
	}
	want := runAlpmVercmp(t, oracle, pairs)
	failures := 0
	for i, p := range pairs {
		if got := Compare(p[0], p[1]); got != want[i] {
			t.Errorf("Compare(%q, %q) = %d, alpm_pkg_vercmp says %d", p[0], p[1], got, want[i])
			if failures++; failures == 20 {
				t.Fatal("too many differences")
			}
		}
	}
	t.Logf("%d pairs agree with alpm_pkg_vercmp", len(pairs))
}

// versionPair returns two versions that are either unrelated or, more
// often, one a small edit of the other, so that comparisons reach deep into
// the strings instead of stopping at the first segment.
func versionPair(rng *rand.Rand) (string, string) {
	a := randomVersion(rng)
	switch rng.IntN(6) {
	case 0:
		return a, randomVersion(rng)
	case 1:
		return a, a
	default:
		b := a
		for range 1 + rng.IntN(3) {
			b = mutate(rng, b)
		}
		if rng.IntN(2) == 0 {
			return a, b
		}
		return b, a
	}
}

// Pieces of versions: real-looking ones and the awkward ones, including
// non-ASCII bytes (a UTF-8 letter, a lone continuation byte, 0xff).
var (
	separators = []string{".", ".", ".", "-", ":", "_", "+", "~", "..", "-", "", " ", "\xc3\xa9", "\x80", "\xff", "/"}
	alphas     = []string{"a", "b", "z", "A", "Z", "rc", "alpha", "beta", "pre", "r", "g", "git", "svn", "ab", "ba", "abc"}
)

func randomNumber(rng *rand.Rand) string {
	switch rng.IntN(8) {
	case 0:
		return strings.Repeat("0", 1+rng.IntN(3)) + strconv.Itoa(rng.IntN(20))
	case 1:
		return "0"
	case 2:
		// Longer than any machine integer.
		return strconv.FormatUint(rng.Uint64(), 10) + strconv.Itoa(rng.IntN(1000))
	default:
		return strconv.Itoa(rng.IntN(12))
	}
}

func randomSegment(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return alphas[rng.IntN(len(alphas))]
	}
	return randomNumber(rng)
}

func randomVersion(rng *rand.Rand) string {
	var sb strings.Builder
	if rng.IntN(5) == 0 {
		if rng.IntN(4) != 0 {
			sb.WriteString(randomNumber(rng))
		}
		sb.WriteByte(':')
	}
	if rng.IntN(8) == 0 {
		sb.WriteString(separators[rng.IntN(len(separators))])
	}
	segments := 1 + rng.IntN(5)
	for i := range segments {
		if i > 0 {
			sb.WriteString(separators[rng.IntN(len(separators))])
		}
		sb.WriteString(randomSegment(rng))
	}
	if rng.IntN(8) == 0 {
		sb.WriteString(separators[rng.IntN(len(separators))])
	}
	if rng.IntN(2) == 0 {
		sb.WriteByte('-')
		if rng.IntN(10) != 0 {
			sb.WriteString(randomNumber(rng))
			if rng.IntN(5) == 0 {
				sb.WriteString(separators[rng.IntN(len(separators))])
				sb.WriteString(randomSegment(rng))
			}
		}
	}
	if rng.IntN(50) == 0 {
		return ""
	}
	return sb.String()
}

// mutate makes a small edit: a byte changed, inserted or deleted, a piece
// inserted, or an epoch or release added.
func mutate(rng *rand.Rand, s string) string {
	pieces := []string{"0", "1", "9", "00", "a", "z", "Z", ".", "-", ":", "_", "~", "+", "..", "\xc3\xa9", "\xff"}
	pos := 0
	if len(s) > 0 {
		pos = rng.IntN(len(s) + 1)
	}
	switch rng.IntN(6) {
	case 0:
		if len(s) > 0 && pos < len(s) {
			return s[:pos] + s[pos+1:]
		}
	case 1:
		if pos < len(s) {
			return s[:pos] + pieces[rng.IntN(len(pieces))] + s[pos+1:]
		}
	case 2:
		return randomNumber(rng) + ":" + s
	case 3:
		return s + "-" + randomNumber(rng)
	}
	return s[:pos] + pieces[rng.IntN(len(pieces))] + s[pos:]
}

// FuzzCompare checks the properties of an order on any input and, when
// vercmp is installed, agreement with it.
func FuzzCompare(f *testing.F) {
	for _, c := range compareCases {
		f.Add(c.a, c.b)
	}
	vercmp := testutil.OptionalTool(f, "vercmp")
	f.Fuzz(func(t *testing.T, a, b string) {
		got := Compare(a, b)
		if got < -1 || got > 1 {
			t.Fatalf("Compare(%q, %q) = %d, not -1, 0 or 1", a, b, got)
		}
		if back := Compare(b, a); back != -got {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, got, b, a, back)
		}
		if self := Compare(a, a); self != 0 {
			t.Fatalf("Compare(%q, %q) = %d", a, a, self)
		}
		// The reference sees what pacman would see: the C strings.
		ca, cb := cString(a), cString(b)
		if vercmp == "" || !oracleCanTake(ca, cb) {
			return
		}
		out, err := exec.Command(vercmp, ca, cb).Output()
		if err != nil {
			t.Fatalf("vercmp %q %q: %v", ca, cb, err)
		}
		want, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("vercmp %q %q printed %q", ca, cb, out)
		}
		if got != sign(want) {
			t.Fatalf("Compare(%q, %q) = %d, vercmp says %d", a, b, got, want)
		}
	})
}

// pairsInput is what both oracles read: each version of each pair ended
// by a NUL byte.
func pairsInput(pairs [][2]string) *bytes.Buffer {
	var in bytes.Buffer
	for _, p := range pairs {
		in.WriteString(p[0])
		in.WriteByte(0)
		in.WriteString(p[1])
		in.WriteByte(0)
	}
	return &in
}

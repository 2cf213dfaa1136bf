package inbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestTrackerSettles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a-1-1-any.pkg.tar.zst")
	os.WriteFile(p, []byte("part"), 0o644)
	tr := newTracker(time.Second, time.Minute, true)
	t0 := time.Unix(1000, 0)
	tr.observe(p, t0)
	if got := tr.ready(t0.Add(999 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("ready before the settle time: %v", got)
	}
	if got := tr.next(t0); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("next %v", got)
	}
	// It grows: the settle time starts again.
	os.WriteFile(p, []byte("part and more"), 0o644)
	tr.observe(p, t0.Add(900*time.Millisecond))
	if got := tr.ready(t0.Add(1500 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("ready although it changed: %v", got)
	}
	if got := tr.ready(t0.Add(1900 * time.Millisecond)); !slices.Equal(got, []string{p}) {
		t.Fatalf("not ready after settling: %v", got)
	}
	// Its .sig arriving makes it a new candidate too.
	os.WriteFile(p+".sig", []byte("sig"), 0o644)
	tr.observe(p, t0.Add(2*time.Second))
	if got := tr.ready(t0.Add(2500 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("ready although its .sig just came: %v", got)
	}
	// Gone: forgotten.
	os.Remove(p)
	tr.observe(p, t0.Add(3*time.Second))
	if tr.pending() != 0 {
		t.Fatalf("a vanished upload is still pending")
	}
}

func TestTrackerFailures(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "a-1-1-any.pkg.tar.zst")
	old := filepath.Join(dir, "b-1-1-any.pkg.tar.zst")
	os.WriteFile(broken, []byte("x"), 0o644)
	os.WriteFile(old, []byte("y"), 0o644)
	tr := newTracker(time.Second, time.Minute, true)
	t0 := time.Unix(1000, 0)
	tr.observe(broken, t0)
	tr.observe(old, t0)
	now := t0.Add(2 * time.Second)
	if !tr.failed(broken, "incomplete", true, false, now) {
		t.Fatal("the first failure is not new")
	}
	if tr.failed(broken, "incomplete", true, false, now.Add(time.Second)) {
		t.Fatal("the same failure again is new")
	}
	tr.failed(old, "older than registered", false, true, now)
	// A failed upload is not tried again as it is.
	if got := tr.ready(now.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("failed uploads ready again: %v", got)
	}
	// A refused one expires at once, a broken one after rejectAfter.
	if got := tr.expired(now); !slices.Equal(got, []string{old}) {
		t.Fatalf("expired %v", got)
	}
	if got := tr.expired(now.Add(time.Minute)); !slices.Equal(got, []string{broken, old}) {
		t.Fatalf("expired %v", got)
	}
	if got := tr.next(now); !got.Equal(now.Add(time.Minute)) {
		t.Fatalf("next %v", got)
	}
	// A failed upload that changes is a candidate again.
	os.WriteFile(broken, []byte("xx"), 0o644)
	tr.observe(broken, now.Add(10*time.Second))
	if got := tr.ready(now.Add(11 * time.Second)); !slices.Equal(got, []string{broken}) {
		t.Fatalf("a changed upload is not tried again: %v", got)
	}
	// A taken upload is never ready again until it changes.
	tr.taken(broken)
	if got := tr.ready(now.Add(time.Hour)); len(got) != 0 || tr.pending() != 1 {
		t.Fatalf("taken upload still counts: %v, %d pending", got, tr.pending())
	}
}

func TestSettingsCheck(t *testing.T) {
	good := Settings{Settle: 0, Window: 0, Rescan: time.Second, RejectAfter: time.Minute}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Settings{
		{Settle: -1, Rescan: time.Second, RejectAfter: time.Minute},
		{Rescan: 0, RejectAfter: time.Minute},
		{Rescan: time.Second, RejectAfter: 0},
	} {
		if bad.check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

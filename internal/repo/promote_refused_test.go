package repo

import (
	"errors"
	"testing"
)

// TestPromotionRefusedByTheTarget: a file the target's own rules refuse
// (no signature where one is required) is not promoted, nothing moves,
// and the promotion does not stay pending: finishing it again could not
// change the target's answer, and every later change of the source would
// fail on it.
func TestPromotionRefusedByTheTarget(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	source := newRepo(t)
	target := withOpts(newRepo(t), func(o *Options) { o.RequireSignature = true })
	mustAdd(t, source, mkpkg(t, src, "a", "1-1"))
	_, err := source.Promote(ctx, target, PromoteRequest{Names: []string{"a"}})
	var unreadable *UnreadableFilesError
	if !errors.As(err, &unreadable) {
		t.Fatalf("promote of an unsigned package to a repository requiring signatures: %v", err)
	}
	if p, err := source.PendingPromotion(); p != nil || err != nil {
		t.Errorf("the refused promotion stays pending: %+v %v", p, err)
	}
	if got := registered(t, source); got["a"] != "1-1" {
		t.Errorf("the source registers %v", got)
	}
	if got := registered(t, target); len(got) != 0 {
		t.Errorf("the target registers %v", got)
	}
}

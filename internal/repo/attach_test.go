package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestAttachSignatures: without a keyring a late .sig named after a
// registered file is placed beside it, again harmlessly (a run that
// stopped before removing its source); another signature for the same
// file is refused, never replacing the one in place; a .sig of a package
// not registered waits; a link is refused as one.
func TestAttachSignatures(t *testing.T) {
	r := newRepo(t)
	key := testutil.NewPGPKey(t, "packager")
	other := testutil.NewPGPKey(t, "other")
	src, inbox := t.TempDir(), t.TempDir()
	a := mkpkg(t, src, "a", "1-1")
	if _, err := r.Add(ctx, []string{a}, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	late := filepath.Join(inbox, filepath.Base(a)+".sig")
	os.WriteFile(late, key.Sign(t, a), 0o644)
	ghost := filepath.Join(inbox, "ghost-1-1-x86_64.pkg.tar.zst.sig")
	os.WriteFile(ghost, key.Sign(t, a), 0o644)
	linked := filepath.Join(inbox, "linked-1-1-x86_64.pkg.tar.zst.sig")
	os.Symlink(late, linked)
	for round := range 2 {
		att, _, err := r.AttachSignatures(ctx, []string{late, ghost, linked}, Request{})
		if err != nil || len(att) != 3 {
			t.Fatalf("round %d: %+v %v", round, att, err)
		}
		if att[0].Problem != nil {
			t.Errorf("round %d: not attached: %v", round, att[0].Problem.Err)
		}
		if p := att[1].Problem; p == nil || !p.Retriable() || !strings.Contains(p.Err.Error(), "no package ghost-1-1-x86_64.pkg.tar.zst is registered") {
			t.Errorf("round %d: ghost: %+v", round, p)
		}
		if p := att[2].Problem; p == nil || p.Err.Error() != "a symbolic link, not a signature" || !att[2].Refused {
			t.Errorf("round %d: link: %+v", round, att[2])
		}
	}
	placed, err := os.ReadFile(filepath.Join(r.dir(), filepath.Base(a)+".sig"))
	if want, _ := os.ReadFile(late); err != nil || string(placed) != string(want) {
		t.Fatalf("placed %d bytes (%v), want the late .sig", len(placed), err)
	}
	os.WriteFile(late, other.Sign(t, a), 0o644)
	att, _, err := r.AttachSignatures(ctx, []string{late}, Request{})
	if err != nil || att[0].Problem == nil || !att[0].Refused {
		t.Fatalf("another signature: %+v %v", att, err)
	}
	if now, _ := os.ReadFile(filepath.Join(r.dir(), filepath.Base(a)+".sig")); string(now) != string(placed) {
		t.Error("the signature in place was replaced")
	}
}

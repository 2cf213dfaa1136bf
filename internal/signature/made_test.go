package signature

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestSignerMade: both signers tell their own signatures (by the primary
// key or a signing subkey) from another key's, however the gpg key is
// named: a change asked to sign re-signs only a database signed by
// another key.
func TestSignerMade(t *testing.T) {
	g := testutil.NewGPG(t)
	t.Setenv("GNUPGHOME", g.Home)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.WriteFile(data, []byte("a database"), 0o644)
	mine := g.GenKey("Mine <mine@test>", "ed25519", "never", "")
	sub := g.AddSigningSubkey(mine)
	other := g.GenKey("Other <other@test>", "ed25519", "never", "")
	read := func(path string) []byte {
		t.Helper()
		b, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	byPrimary := read(g.Sign(mine, data, ""))
	bySub := read(g.Sign(sub, data, ""))
	byOther := read(g.Sign(other, data, ""))

	keySigner, err := NewKeySigner(g.ExportSecret(mine, dir, ""), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	signers := map[string]interface {
		Made(context.Context, []byte) (bool, error)
	}{
		"key file":           keySigner,
		"gpg by user ID":     GPGSigner{KeyID: "mine@test"},
		"gpg by fingerprint": GPGSigner{KeyID: mine},
		"gpg by key ID":      GPGSigner{KeyID: mine[len(mine)-16:]},
	}
	for name, s := range signers {
		for sigName, c := range map[string]struct {
			sig  []byte
			want bool
		}{"primary": {byPrimary, true}, "subkey": {bySub, true}, "other": {byOther, false}} {
			got, err := s.Made(ctx, c.sig)
			if err != nil || got != c.want {
				t.Errorf("%s: Made(signature by %s) = %v, %v; want %v", name, sigName, got, err, c.want)
			}
		}
	}
}

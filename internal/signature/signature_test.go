package signature

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// keys made by real gpg, and a file signed by each.
type fixture struct {
	gpg                                   *testutil.GPG
	dir, data                             string
	rsa, ed, withSub, sub, expired, other string
}

func newFixture(t *testing.T) *fixture {
	g := testutil.NewGPG(t)
	f := &fixture{gpg: g, dir: t.TempDir()}
	f.data = filepath.Join(f.dir, "data")
	os.WriteFile(f.data, []byte("the bytes of a package"), 0o644)
	f.rsa = g.GenKey("RSA <rsa@test>", "rsa2048", "never", "")
	f.ed = g.GenKey("Ed <ed@test>", "ed25519", "never", "")
	f.withSub = g.GenKey("Sub <sub@test>", "ed25519", "never", "")
	f.sub = g.AddSigningSubkey(f.withSub)
	f.expired = g.GenKey("Old <old@test>", "ed25519", "1d", "20200101T000000")
	f.other = g.GenKey("Other <other@test>", "ed25519", "never", "")
	return f
}

// keyring is a keyring file holding the public keys of fprs.
func (f *fixture) keyring(t *testing.T, armored bool, fprs ...string) string {
	var all []byte
	for _, fpr := range fprs {
		b, err := os.ReadFile(f.gpg.Export(fpr, t.TempDir(), armored))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	path := filepath.Join(t.TempDir(), "keyring")
	os.WriteFile(path, all, 0o644)
	return path
}

func (f *fixture) sign(t *testing.T, key, faked string) []byte {
	b, err := ReadFile(f.gpg.Sign(key, f.data, faked))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) verify(t *testing.T, k *Keyring, sig []byte) (string, error) {
	file, _ := os.Open(f.data)
	defer file.Close()
	return k.Verify(file, sig, f.data+".sig")
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	k, err := LoadKeyring([]string{f.keyring(t, true, f.rsa, f.ed), f.keyring(t, false, f.withSub, f.expired)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"rsa": f.rsa, "ed25519": f.ed, "subkey": f.sub} {
		if id, err := f.verify(t, k, f.sign(t, key, "")); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if name == "subkey" && id != f.withSub {
			t.Errorf("subkey signature attributed to %s, want the primary key %s", id, f.withSub)
		}
	}
	cases := map[string]struct {
		sig  []byte
		data string
		want Kind
	}{
		"unknown key": {f.sign(t, f.other, ""), "", UnknownKey},
		"expired key": {f.sign(t, f.expired, "20200101T120000"), "", Expired},
		"tampered":    {f.sign(t, f.rsa, ""), "the bytes of another package", Bad},
		"tampered ed": {f.sign(t, f.ed, ""), "the bytes of another package", Bad},
	}
	for name, c := range cases {
		if c.data != "" {
			os.WriteFile(f.data, []byte(c.data), 0o644)
		}
		_, err := f.verify(t, k, c.sig)
		if KindOf(err) != c.want {
			t.Errorf("%s: got %v (%v), want %v", name, KindOf(err), err, c.want)
		}
		if se, ok := err.(*Error); ok && se.KeyID == "" {
			t.Errorf("%s: the error names no key: %v", name, err)
		}
		os.WriteFile(f.data, []byte("the bytes of a package"), 0o644)
	}
	// A revoked key.
	sig := f.sign(t, f.ed, "")
	f.gpg.Revoke(f.ed)
	k, _ = LoadKeyring([]string{f.keyring(t, true, f.ed)}, nil)
	if _, err := f.verify(t, k, sig); KindOf(err) != Revoked {
		t.Errorf("revoked key: %v", err)
	}
	// trusted_keys keeps only those keys; an unknown fingerprint is an error.
	k, err = LoadKeyring([]string{f.keyring(t, true, f.rsa, f.other)}, []string{strings.ToLower(f.rsa)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verify(t, k, f.sign(t, f.other, "")); KindOf(err) != UnknownKey {
		t.Errorf("untrusted key: %v", err)
	}
	if _, err := LoadKeyring([]string{f.keyring(t, true, f.rsa)}, []string{f.other}); err == nil {
		t.Error("a trusted key missing from the keyring was accepted")
	}
}

func TestDecode(t *testing.T) {
	f := newFixture(t)
	bin := f.sign(t, f.rsa, "")
	armored := f.gpg.Run("--armor", "--local-user", f.rsa, "--detach-sign", "--output", "-", f.data)
	got, err := Decode([]byte(armored))
	if err != nil || !bytes.Equal(got, bin[:len(got)]) && len(got) == 0 {
		t.Fatalf("armored: %v", err)
	}
	if _, err := Parse(got); err != nil {
		t.Fatalf("armored converted: %v", err)
	}
	random := make([]byte, 300)
	rand.Read(random)
	pub, _ := os.ReadFile(f.gpg.Export(f.rsa, t.TempDir(), false))
	for name, b := range map[string][]byte{
		"random":    random,
		"empty":     nil,
		"truncated": bin[:len(bin)/2],
		"two":       append(append([]byte{}, bin...), bin...),
		"key":       pub,
		"huge":      bytes.Repeat([]byte{0xc2}, MaxSize+1),
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestMatches(t *testing.T) {
	f := newFixture(t)
	sig := f.sign(t, f.rsa, "")
	if ok, err := Matches(strings.NewReader("the bytes of a package"), sig); !ok || err != nil {
		t.Errorf("own data: %v %v", ok, err)
	}
	if ok, _ := Matches(strings.NewReader("other bytes"), sig); ok {
		t.Error("other data matched")
	}
}

// TestSigners: what KeySigner and GPGSigner make, real gpg verifies.
func TestSigners(t *testing.T) {
	f := newFixture(t)
	protected := f.gpg.GenProtectedKey("Farm <farm@test>", "s3cret")
	keyFile := f.gpg.ExportSecret(protected, t.TempDir(), "s3cret")
	if _, err := NewKeySigner(keyFile, "", nil); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("no passphrase: %v", err)
	}
	if _, err := NewKeySigner(keyFile, "", []byte("wrong")); err == nil {
		t.Error("a wrong passphrase was accepted")
	}
	s, err := NewKeySigner(keyFile, protected, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(context.Background(), f.data)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.data+".sig", sig, 0o644)
	if out, ok := f.gpg.Verify(f.data+".sig", f.data); !ok {
		t.Errorf("gpg --verify of our signature:\n%s", out)
	}
	t.Setenv("GNUPGHOME", f.gpg.Home)
	sig, err = GPGSigner{KeyID: f.ed}.Sign(context.Background(), f.data)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := LoadKeyring([]string{f.keyring(t, true, f.ed)}, nil)
	if _, err := f.verify(t, k, sig); err != nil {
		t.Errorf("gpg's signature: %v", err)
	}
}

// FuzzDecode: whatever Decode accepts parses as one signature packet of at
// most MaxSize bytes.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\nwsBc\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte{0xc2, 0x5c, 0x04, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := Decode(b)
		if err != nil {
			return
		}
		if len(sig) == 0 || len(sig) > MaxSize {
			t.Fatalf("accepted %d bytes", len(sig))
		}
		if _, err := Parse(sig); err != nil {
			t.Fatalf("accepted, but does not parse: %v", err)
		}
	})
}

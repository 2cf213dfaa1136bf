package testutil

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// PGPKey is a signing key made in-process, for tests that need many valid
// signatures quickly (the real-gpg tests use GPG).
type PGPKey struct {
	entity *openpgp.Entity
	// Keyring is a file holding the public key, armored.
	Keyring string
	// Fingerprint is the key's fingerprint, upper-case hex.
	Fingerprint string
}

// NewPGPKey makes a key and writes its public part to a keyring file.
func NewPGPKey(t testing.TB, name string) *PGPKey {
	t.Helper()
	k, err := MakePGPKey(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// MakePGPKey makes a key and writes its public part to a keyring file in
// dir.
func MakePGPKey(dir, name string) (*PGPKey, error) {
	e, err := openpgp.NewEntity(name, "", name+"@pacrepo.test", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".asc")
	if err := writeArmored(path, openpgp.PublicKeyType, e.Serialize); err != nil {
		return nil, err
	}
	return &PGPKey{entity: e, Keyring: path, Fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)}, nil
}

func writeArmored(path, blockType string, serialize func(w io.Writer) error) error {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, blockType, nil)
	if err != nil {
		return err
	}
	if err := serialize(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// SignBytes returns a binary detached signature of the file at path.
func (k *PGPKey) SignBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, k.entity, f, &packet.Config{DefaultHash: crypto.SHA256}); err != nil {
		return nil, err
	}
	return sig.Bytes(), nil
}

// Sign returns a binary detached signature of the file at path.
func (k *PGPKey) Sign(t testing.TB, path string) []byte {
	t.Helper()
	sig, err := k.SignBytes(path)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// SignFile writes the signature of the file at path to path + ".sig".
func (k *PGPKey) SignFile(t testing.TB, path string) string {
	t.Helper()
	if err := os.WriteFile(path+".sig", k.Sign(t, path), 0o644); err != nil {
		t.Fatal(err)
	}
	return path + ".sig"
}

// WriteSecret writes the secret key, armored and unprotected, to the file
// path.
func (k *PGPKey) WriteSecret(path string) error {
	return writeArmored(path, openpgp.PrivateKeyType, func(w io.Writer) error { return k.entity.SerializePrivate(w, nil) })
}

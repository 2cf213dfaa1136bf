package signature

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// Signer makes binary detached signatures of files.
type Signer interface {
	// Sign signs the file at path.
	Sign(ctx context.Context, path string) ([]byte, error)
	// Key names the signing key, for messages.
	Key() string
}

// KeySigner signs in-process with an OpenPGP secret key read from a file:
// the way for build farms and CI, which hold the key themselves.
type KeySigner struct {
	entity *openpgp.Entity
	config *packet.Config
	key    string
}

// NewKeySigner reads the secret key file (armored or binary) and unlocks
// it with passphrase when it is protected. key, when not empty, chooses the
// key by fingerprint or key ID (a primary key, or one of its signing
// subkeys); else the file must hold one key.
func NewKeySigner(file, key string, passphrase []byte) (*KeySigner, error) {
	b, err := readAll(file)
	if err != nil {
		return nil, err
	}
	list, err := readKeys(b)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", file, err)
	}
	s := &KeySigner{config: &packet.Config{DefaultHash: crypto.SHA256}}
	want := normalizeFingerprint(key)
	for _, e := range list {
		if e.PrivateKey == nil {
			continue
		}
		switch {
		case want == "" && s.entity != nil:
			return nil, fmt.Errorf("signing key %s holds several secret keys: choose one with sign_key or --key", file)
		case want == "":
			s.entity = e
		case keyMatches(e.PrimaryKey, want):
			s.entity = e
		default:
			for _, sub := range e.Subkeys {
				if sub.PrivateKey != nil && keyMatches(sub.PublicKey, want) {
					s.entity = e
					s.config.SigningKeyId = sub.PublicKey.KeyId
				}
			}
		}
	}
	if s.entity == nil {
		if want != "" {
			return nil, fmt.Errorf("signing key %s holds no secret key %s", file, key)
		}
		return nil, fmt.Errorf("signing key %s holds no secret key", file)
	}
	if encrypted(s.entity) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("signing key %s is protected by a passphrase: give it in a file (sign_key_passphrase_file) or $PACREPO_SIGN_PASSPHRASE", file)
		}
		if err := s.entity.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("signing key %s: wrong passphrase: %w", file, err)
		}
	}
	s.key = strings.ToUpper(hex.EncodeToString(s.entity.PrimaryKey.Fingerprint))
	return s, nil
}

func keyMatches(k *packet.PublicKey, want string) bool {
	fp := strings.ToUpper(hex.EncodeToString(k.Fingerprint))
	return fp == want || strings.HasSuffix(fp, want) && len(want) >= 16
}

func encrypted(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// Sign signs the file at path.
func (s *KeySigner) Sign(_ context.Context, path string) ([]byte, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, s.entity, f, s.config); err != nil {
		return nil, fmt.Errorf("sign %s with key %s: %w", path, s.key, err)
	}
	return sig.Bytes(), nil
}

// Key is the signing key's fingerprint.
func (s *KeySigner) Key() string { return s.key }

// GPGSigner signs with the gpg program, for keys held by the user's gpg
// agent or a smartcard (repo-add's way): the one process pacrepo runs for
// its work.
type GPGSigner struct {
	KeyID string // --local-user; "" is gpg's default key
}

// Sign signs the file at path with gpg.
func (s GPGSigner) Sign(ctx context.Context, path string) ([]byte, error) {
	args := []string{"--batch", "--no-tty", "--yes", "--detach-sign", "--no-armor", "--output", "-"}
	if s.KeyID != "" {
		args = append(args, "--local-user", s.KeyID)
	}
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "gpg", append(args, "--", path)...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("gpg could not sign %s (exit %s): %s", path, strconv.Itoa(ee.ExitCode()), msg)
		}
		return nil, fmt.Errorf("gpg could not sign %s: %w", path, err)
	}
	if _, err := Decode(out.Bytes()); err != nil {
		return nil, fmt.Errorf("gpg's signature of %s: %w", path, err)
	}
	return out.Bytes(), nil
}

// Key is the key gpg signs with.
func (s GPGSigner) Key() string {
	if s.KeyID == "" {
		return "gpg's default key"
	}
	return s.KeyID
}

// Made tells whether the binary signature sig was made by the key s signs
// with (its primary key or one of its signing subkeys).
func (s *KeySigner) Made(_ context.Context, sig []byte) (bool, error) {
	id, err := Issuer(sig)
	if err != nil {
		return false, err
	}
	if issuedBy(s.entity.PrimaryKey, id) {
		return true, nil
	}
	for _, sub := range s.entity.Subkeys {
		if issuedBy(sub.PublicKey, id) {
			return true, nil
		}
	}
	return false, nil
}

// Made tells whether the binary signature sig was made by the key gpg
// signs with: gpg names that key's fingerprints (it may be named by a
// user ID, or be gpg's default key).
func (s GPGSigner) Made(ctx context.Context, sig []byte) (bool, error) {
	id, err := Issuer(sig)
	if err != nil {
		return false, err
	}
	args := []string{"--batch", "--no-tty", "--with-colons", "--list-secret-keys"}
	if s.KeyID != "" {
		args = append(args, "--", s.KeyID)
	}
	out, err := exec.CommandContext(ctx, "gpg", args...).Output()
	if err != nil {
		return false, fmt.Errorf("gpg could not list the signing key %s: %w", s.Key(), err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		// fpr:::::::::FINGERPRINT:
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" && fingerprintIs(f[9], id) {
			return true, nil
		}
	}
	return false, nil
}

// Issuer is the fingerprint (or, in older signatures, the key ID) of the
// key that made the binary signature sig, in upper-case hex.
func Issuer(sig []byte) (string, error) {
	p, err := Parse(sig)
	if err != nil {
		return "", err
	}
	id := issuer(p)
	if id == "" {
		return "", errors.New("the signature names no key")
	}
	return id, nil
}

func issuedBy(k *packet.PublicKey, id string) bool {
	return fingerprintIs(strings.ToUpper(hex.EncodeToString(k.Fingerprint)), id)
}

// fingerprintIs: id is the fingerprint fp, or its key ID (its last 16
// hex digits).
func fingerprintIs(fp, id string) bool {
	fp = strings.ToUpper(fp)
	return fp == id || len(id) == 16 && strings.HasSuffix(fp, id)
}

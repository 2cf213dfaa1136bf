// Package signature reads, verifies and makes the detached OpenPGP
// signatures of packages and databases, in-process (github.com/ProtonMail/
// go-crypto). Only signing with a key held by gpg's agent or a smartcard
// runs the gpg program.
//
// A signature file follows repo-add's rules: a binary detached signature of
// at most MaxSize bytes. An armored one is converted to binary; anything
// else is malformed.
package signature

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/pacrepo/pacrepo/internal/fsutil"
)

// MaxSize is repo-add's limit for a package signature, the largest a
// database embeds as %PGPSIG%.
const MaxSize = 16384

// Kind tells why a signature does not vouch for its file.
type Kind int

const (
	// Missing: there is no signature and one is required.
	Missing Kind = iota + 1
	// Malformed: not a detached OpenPGP signature (garbage, truncated, too
	// large, several packets, a key instead of a signature).
	Malformed
	// Bad: the signature does not match the file.
	Bad
	// UnknownKey: no key of the keyring (no trusted one) made it.
	UnknownKey
	// Expired: the signature, or the key that made it, has expired.
	Expired
	// Revoked: the key that made it is revoked.
	Revoked
)

func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing signature"
	case Malformed:
		return "malformed signature"
	case Bad:
		return "bad signature"
	case UnknownKey:
		return "signature by an unknown key"
	case Expired:
		return "expired signature or key"
	case Revoked:
		return "signature by a revoked key"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error says why the signature at Path does not vouch for its file.
type Error struct {
	Path  string // the signature file
	Kind  Kind
	KeyID string // the issuer's key ID (hex), when the signature names one
	Err   error  // the underlying reason, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path + ": " + e.Kind.String())
	if e.KeyID != "" {
		b.WriteString(" (key " + e.KeyID + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, or 0 when err is not an *Error.
func KindOf(err error) Kind {
	var se *Error
	if errors.As(err, &se) {
		return se.Kind
	}
	return 0
}

// ReadFile reads the signature file at path (a regular file, opened without
// blocking) and returns it in binary form; see Decode.
func ReadFile(path string) ([]byte, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// An armored signature is larger than its binary form.
	b, err := io.ReadAll(io.LimitReader(f, 4*MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	sig, err := Decode(b)
	if err != nil {
		return nil, &Error{Path: path, Kind: Malformed, Err: err}
	}
	return sig, nil
}

// Decode returns the binary form of the detached signature b, binary or
// armored: exactly one OpenPGP signature packet of at most MaxSize bytes.
func Decode(b []byte) ([]byte, error) {
	if bytes.Contains(b[:min(len(b), 256)], []byte("-----BEGIN PGP SIGNATURE-----")) {
		block, err := armor.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("armored, but not readable: %w", err)
		}
		if block.Type != "PGP SIGNATURE" {
			return nil, fmt.Errorf("armored %s, not a signature", block.Type)
		}
		if b, err = io.ReadAll(io.LimitReader(block.Body, MaxSize+1)); err != nil {
			return nil, fmt.Errorf("armored, but not readable: %w", err)
		}
	}
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxSize)
	}
	if _, err := Parse(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Parse parses the binary detached signature b: exactly one signature
// packet.
func Parse(b []byte) (*packet.Signature, error) {
	r := packet.NewReader(bytes.NewReader(b))
	p, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("not an OpenPGP packet: %w", err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, fmt.Errorf("an OpenPGP %T, not a signature", p)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one OpenPGP packet")
	}
	return sig, nil
}

// issuer is the key ID the signature names, in hex, or "".
func issuer(sig *packet.Signature) string {
	switch {
	case len(sig.IssuerFingerprint) > 0:
		return strings.ToUpper(hex.EncodeToString(sig.IssuerFingerprint))
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	return ""
}

// Matches tells, without any key, whether the binary signature sig was
// made over data: the signature carries the first two bytes of the hash it
// signs (v4), so data of another file is told apart with all but a
// 1/65536 chance. It answers true when it cannot tell (another version).
func Matches(data io.Reader, sig []byte) (bool, error) {
	s, err := Parse(sig)
	if err != nil {
		return false, err
	}
	if s.Version != 4 || !s.Hash.Available() {
		return true, nil
	}
	h := s.Hash.New()
	if _, err := io.Copy(h, data); err != nil {
		return false, err
	}
	h.Write(s.HashSuffix)
	sum := h.Sum(nil)
	return sum[0] == s.HashTag[0] && sum[1] == s.HashTag[1], nil
}

// kindOf maps go-crypto's verification errors to a Kind.
func kindOf(err error) Kind {
	var se pgperrors.SignatureError
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return UnknownKey
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return Revoked
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrSignatureExpired):
		return Expired
	case errors.As(err, &se):
		if strings.Contains(string(se), "revoked") {
			return Revoked
		}
		if strings.Contains(string(se), "expired") {
			return Expired
		}
		return Bad
	}
	return Bad
}

// hashes are the digests a package or database signature may use; MD5 and
// SHA-1 are refused, as pacman refuses them.
var hashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA224, crypto.SHA3_256, crypto.SHA3_512}

// readAll is os.ReadFile for the key and passphrase files.
func readAll(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

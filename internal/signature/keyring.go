package signature

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Keyring holds the public keys signatures are verified against, like
// pacman's keyring: only signatures made by these keys (or their signing
// subkeys) count.
type Keyring struct {
	keys openpgp.EntityList
	id   string
}

// LoadKeyring reads public keys from files of exported keys, armored or
// binary (as pacman's keyrings/*.gpg). With trusted fingerprints, only
// those keys count; a trusted fingerprint no file holds is an error, so a
// mistyped fingerprint never silently trusts nothing.
func LoadKeyring(files, trusted []string) (*Keyring, error) {
	k := &Keyring{}
	id := sha256.New()
	for _, f := range files {
		b, err := readAll(f)
		if err != nil {
			return nil, err
		}
		id.Write(b)
		list, err := readKeys(b)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", f, err)
		}
		k.keys = append(k.keys, list...)
	}
	for _, fp := range trusted {
		id.Write([]byte("\x00" + normalizeFingerprint(fp)))
	}
	k.id = hex.EncodeToString(id.Sum(nil))
	if len(trusted) == 0 {
		return k, nil
	}
	want := map[string]bool{}
	for _, fp := range trusted {
		want[normalizeFingerprint(fp)] = true
	}
	var kept openpgp.EntityList
	for _, e := range k.keys {
		fp := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
		if want[fp] {
			kept = append(kept, e)
			delete(want, fp)
		}
	}
	for fp := range want {
		return nil, fmt.Errorf("trusted key %s is in none of the keyring files", fp)
	}
	k.keys = kept
	return k, nil
}

// readKeys reads binary keys, or every armored block of a file that holds
// several (keys exported one after the other).
func readKeys(b []byte) (openpgp.EntityList, error) {
	if !bytes.Contains(b[:min(len(b), 256)], []byte("-----BEGIN PGP")) {
		return openpgp.ReadKeyRing(bytes.NewReader(b))
	}
	var all openpgp.EntityList
	r := bytes.NewReader(b)
	for {
		block, err := armor.Decode(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		list, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
	}
	if len(all) == 0 {
		return nil, errors.New("no key")
	}
	return all, nil
}

func normalizeFingerprint(fp string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "0x", "", "0X", "").Replace(fp))
}

// ID identifies the keyring's content (its files and trusted keys): a
// verification remembered with one ID holds only for the same keyring. A
// nil keyring has the ID "".
func (k *Keyring) ID() string {
	if k == nil {
		return ""
	}
	return k.id
}

// Len is the number of keys that count.
func (k *Keyring) Len() int { return len(k.keys) }

// Verify checks that the binary detached signature sig (read from path,
// which errors name) was made over data by a key of the keyring that was
// neither expired nor revoked. It returns the signing key's ID.
func (k *Keyring) Verify(data io.Reader, sig []byte, path string) (string, error) {
	s, err := Parse(sig)
	if err != nil {
		return "", &Error{Path: path, Kind: Malformed, Err: err}
	}
	keyID := issuer(s)
	_, signer, err := openpgp.VerifyDetachedSignatureAndHash(k.keys, data, bytes.NewReader(sig), hashes, &packet.Config{})
	if err != nil {
		return keyID, &Error{Path: path, Kind: kindOf(err), KeyID: keyID, Err: err}
	}
	if signer != nil {
		keyID = strings.ToUpper(hex.EncodeToString(signer.PrimaryKey.Fingerprint))
	}
	return keyID, nil
}

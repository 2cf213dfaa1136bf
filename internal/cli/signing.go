package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// EnvSignPassphrase holds the passphrase of sign_key_file when
// sign_key_passphrase_file is not set: never on the command line.
const EnvSignPassphrase = "PACREPO_SIGN_PASSPHRASE"

// keyring loads the keyring signatures are verified against: --keyring
// when given, else the profile's keyring; nil when there is none.
func (g *Globals) keyring(p *config.Profile) (*signature.Keyring, error) {
	files := p.Keyring
	if len(g.Keyring) > 0 {
		files = g.Keyring
	}
	if len(files) == 0 {
		if len(p.TrustedKeys) > 0 {
			return nil, usage(errors.New("trusted_keys needs a keyring (keyring in the profile, or --keyring)"))
		}
		return nil, nil
	}
	k, err := signature.LoadKeyring(files, p.TrustedKeys)
	if err != nil {
		return nil, err
	}
	if k.Len() == 0 {
		return nil, fmt.Errorf("keyring %s holds no key", strings.Join(files, ", "))
	}
	return k, nil
}

// signer is the key databases and packages are signed with: key (-k), else
// the profile's sign_key, chooses it; sign_key_file signs in-process, gpg
// (the user's agent or smartcard) otherwise.
func signer(p *config.Profile, key string) (signature.Signer, error) {
	if key == "" {
		key = p.SigningKey()
	}
	if p.SignKeyFile == "" || p.SignWith == "gpg" {
		return signature.GPGSigner{KeyID: key}, nil
	}
	pass, err := signPassphrase(p)
	if err != nil {
		return nil, err
	}
	return signature.NewKeySigner(p.SignKeyFile, key, pass)
}

func signPassphrase(p *config.Profile) ([]byte, error) {
	if p.SignKeyPassphraseFile == "" {
		return []byte(os.Getenv(EnvSignPassphrase)), nil
	}
	b, err := os.ReadFile(p.SignKeyPassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("sign_key_passphrase_file: %w", err)
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

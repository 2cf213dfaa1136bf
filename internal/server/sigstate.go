package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// sigState is what a package page says of the package's signature.
type sigState struct {
	Present  bool
	Embedded bool   // the database holds it (%PGPSIG%)
	File     string // the .sig file as served beside the package, "" when none is
	Checked  bool   // verified against the repository's keyring
	Valid    bool
	Key      string // the signing key: its fingerprint when valid, else the key ID the signature names
	Problem  string // why it is not valid
}

// signatureOf returns p's signature state, worked out once per
// generation: the signature is read (from the database or the .sig file)
// and, with a keyring, the package is read once to verify it.
func (h *handler) signatureOf(ctx context.Context, repo Repository, p *pkgView) sigState {
	// Remembered for every later request: not cut short by this one's end.
	p.sigOnce.Do(func() { p.sig = h.readSignature(context.WithoutCancel(ctx), repo, p) })
	return p.sig
}

func (h *handler) readSignature(ctx context.Context, repo Repository, p *pkgView) sigState {
	var st sigState
	sigName := p.Filename + ".sig"
	var raw []byte
	if publicKind(repo.Name, sigName) == layout.Signature {
		if b, err := h.readRepoFile(ctx, repo, sigName, signature.MaxSize); err == nil {
			raw, st.File = b, sigName
		}
	}
	if p.PGPSig != "" {
		if b, err := base64.StdEncoding.DecodeString(p.PGPSig); err == nil {
			raw, st.Embedded = b, true
		}
	}
	if raw == nil {
		return st
	}
	st.Present = true
	if repo.Keyring == nil {
		return st
	}
	st.Checked = true
	sig, err := signature.Decode(raw)
	if err != nil {
		st.Problem = err.Error()
		return st
	}
	data, err := h.openRepoFile(ctx, repo, p.Filename)
	if err != nil {
		st.Problem = "the package cannot be read: " + err.Error()
		return st
	}
	defer data.Close()
	key, err := repo.Keyring.Verify(data, sig, sigName)
	st.Key = key
	if err != nil {
		st.Problem = signature.KindOf(err).String()
		return st
	}
	st.Valid = true
	return st
}

// openRepoFile opens the public file name of repo, in a directory or a
// bucket, through the allow-list files are served through.
func (h *handler) openRepoFile(ctx context.Context, repo Repository, name string) (io.ReadCloser, error) {
	kind := publicKind(repo.Name, name)
	if kind == layout.Other {
		return nil, fmt.Errorf("%s is not public", name)
	}
	if repo.Objects == nil {
		return h.openPublic(repo, name, kind)
	}
	obj, err := repo.Objects.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	body, err := repo.Objects.OpenAt(ctx, obj, 0)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(body, obj.Size), body}, nil
}

// readRepoFile reads at most limit bytes of the public file name of repo.
func (h *handler) readRepoFile(ctx context.Context, repo Repository, name string, limit int64) ([]byte, error) {
	f, err := h.openRepoFile(ctx, repo, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than a signature", name)
	}
	return b, nil
}

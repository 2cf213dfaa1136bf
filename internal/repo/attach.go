package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// Attached is what AttachSignatures did with one signature.
type Attached struct {
	Path string
	// Problem says why it was not attached (nil: it is beside its
	// package now, placed by this call or an earlier one).
	Problem *Problem
	// Refused: it never will be as it is (the repository holds another
	// signature for the package).
	Refused bool
}

// AttachSignatures brings signatures that arrive after their packages were
// registered (an upload's late .sig, the watch command's inbox) in beside
// those packages: NAME.pkg.tar.EXT.sig belongs to the registered file
// NAME.pkg.tar.EXT, and with a keyring it must verify against it. Each is
// read as an upload (AddOptions.Uploads: never through a link) and placed
// under the lock without replacing anything; with req.EmbedSignatures the
// entries are then refreshed. A package not registered (yet) is a problem
// waiting can mend. The sources are left where they are.
func (r *Repo) AttachSignatures(ctx context.Context, sigs []string, req Request) ([]Attached, *Result, error) {
	l, err := r.lock(ctx, "attach signatures")
	if err != nil {
		return nil, nil, err
	}
	out, names, err := r.attachLocked(sigs)
	l.release()
	if err != nil || len(names) == 0 || !req.EmbedSignatures {
		return out, nil, err
	}
	res, err := r.Update(ctx, names, req)
	return out, res, err
}

func (r *Repo) attachLocked(sigs []string) (out []Attached, placed []string, err error) {
	if j, err := r.readJournal(); err != nil || j != nil {
		// Recovery decides about the files of an unfinished change first.
		return nil, nil, fmt.Errorf("attach signatures: a change of %s is unfinished (%v); the next command finishes it", r.dir(), err)
	}
	entries, err := r.Entries(context.Background())
	if err != nil {
		return nil, nil, err
	}
	for _, sigPath := range sigs {
		a := Attached{Path: sigPath}
		if _, prob := uploadID(sigPath, "a signature"); prob != nil {
			// A link or a FIFO is refused as what it is, whatever its name.
			var nr *NotRegularError
			a.Problem, a.Refused = prob, errors.As(prob.Err, &nr)
			out = append(out, a)
			continue
		}
		pkgName := strings.TrimSuffix(filepath.Base(sigPath), ".sig")
		var name, sha string
		for _, e := range entries {
			if e.Filename == pkgName {
				name, sha = e.Name, e.SHA256Sum
			}
		}
		if name == "" {
			a.Problem = &Problem{Path: sigPath, Kind: pkgfile.Incomplete, Err: fmt.Errorf("no package %s is registered (yet)", pkgName)}
			out = append(out, a)
			continue
		}
		a.Problem, a.Refused = r.attachOne(sigPath, filepath.Join(r.dir(), pkgName), sha)
		if a.Problem == nil {
			placed = append(placed, name)
		}
		out = append(out, a)
	}
	return out, placed, nil
}

// attachOne reads, checks and places the signature at sigPath of the
// registered file pkg whose SHA-256 is sha.
func (r *Repo) attachOne(sigPath, pkg, sha string) (prob *Problem, refused bool) {
	before, prob := uploadID(sigPath, "a signature")
	if prob != nil {
		var nr *NotRegularError
		return prob, errors.As(prob.Err, &nr)
	}
	sig, err := signature.ReadFile(sigPath)
	if err != nil {
		return &Problem{Path: sigPath, Signature: signature.Malformed, Err: err}, false
	}
	if after, prob := uploadID(sigPath, "a signature"); prob != nil || after != before {
		return &Problem{Path: sigPath, Kind: pkgfile.Incomplete, Err: errors.New("file changed while being read")}, false
	}
	if r.opts.Keyring != nil {
		if prob := r.verifySignature(pkg, sha, sig); prob != nil {
			prob.Path = sigPath
			return prob, false
		}
	}
	dest := pkg + ".sig"
	if have, err := os.ReadFile(dest); err == nil {
		if bytes.Equal(have, sig) {
			return nil, false // attached already (by a run that stopped before removing its source)
		}
		return &Problem{Path: sigPath, Err: fmt.Errorf("the repository holds another signature for %s", filepath.Base(pkg))}, true
	}
	tmp, err := fsutil.WriteTemp(r.dir(), dest, sig, 0o644)
	if err != nil {
		return &Problem{Path: sigPath, Err: err}, false
	}
	if err := fsutil.RenameNoReplace(tmp, dest); err != nil {
		os.Remove(tmp)
		return &Problem{Path: sigPath, Err: fmt.Errorf("place %s: %w", dest, err)}, false
	}
	if err := fsutil.SyncDir(r.dir()); err != nil {
		return &Problem{Path: sigPath, Err: err}, false
	}
	return nil, false
}

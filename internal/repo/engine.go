package repo

// The planner for every store. A repository directory is one store; a
// bucket (s3repo) is another. Each store lists, reads and verifies what it
// holds into a Snapshot and turns the Plan into its own commit; the rules
// of what a command does (plan.go) and whether a signature vouches for a
// package (SignaturePolicy) live here only, so that every promise holds
// the same in both.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"

	"github.com/pacrepo/pacrepo/internal/fsutil"
	"github.com/pacrepo/pacrepo/internal/pkgfile"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/signature"
)

// Snapshot is what a store holds, as one read found it: the planner's
// whole input besides the request.
type Snapshot struct {
	// Entries are the registered entries.
	Entries []repodb.Key
	// Files are the package files read completely and verified (size,
	// SHA-256, .PKGINFO, signature by the SignaturePolicy): the only
	// evidence the planner uses. A store may trust a registered file that
	// is unchanged since it was verified, as a directory's verification
	// cache does.
	Files []SnapshotFile
	// Problems are the files that could not be used.
	Problems []Problem
	// Present are the base names of every file of the store.
	Present map[string]bool
	// Signatures are the base names of the .sig files.
	Signatures map[string]bool
	// Kept are files retired in place (or, in a bucket, unregistered and
	// left until gc) that still hold what they held then: candidates for
	// nothing.
	Kept []SnapshotFile
	// EmbedSignatures says the command writes %PGPSIG%: an entry whose
	// embedded signature differs from its .sig is refreshed.
	EmbedSignatures bool
}

// SnapshotFile is one verified package file.
type SnapshotFile struct {
	Filename, Name, Version string
	CSize                   int64
	SHA256                  string
	HasSig                  bool
	// SigField is the %PGPSIG% value of its good .sig ("" when there is
	// none).
	SigField string
}

// AddedFile is a verified file add registers, and the source it comes
// from (what a skip action names).
type AddedFile struct {
	SnapshotFile
	Source string
}

func (f *SnapshotFile) verified() verifiedFile {
	return verifiedFile{Filename: f.Filename, Name: f.Name, Version: f.Version, CSize: f.CSize,
		SHA256: f.SHA256, HasSig: f.HasSig, SigField: f.SigField}
}

// scanResult is the snapshot as the planner takes it.
func (s *Snapshot) scanResult() *scanResult {
	r := &scanResult{registered: len(s.Entries), present: s.Present, sigs: s.Signatures,
		problems: slices.Clone(s.Problems), embedSigs: s.EmbedSignatures}
	r.entries = slices.Clone(s.Entries)
	slices.SortFunc(r.entries, func(a, b repodb.Key) int { return strings.Compare(a.Name, b.Name) })
	for i := range s.Files {
		r.files = append(r.files, s.Files[i].verified())
	}
	for i := range s.Kept {
		r.kept = append(r.kept, s.Kept[i].verified())
	}
	return r
}

// PlanUpdate is the plan of update (and status) of names (all when none).
func PlanUpdate(s *Snapshot, names []string, force bool) (*Plan, error) {
	return planUpdate(s.scanResult(), names, planOptions{Force: force})
}

// PlanRemove is the plan of remove of names.
func PlanRemove(s *Snapshot, names []string, force bool) (*Plan, error) {
	return planRemove(s.scanResult(), names, planOptions{Force: force})
}

// PlanReset is the plan of reset.
func PlanReset(s *Snapshot, force bool) (*Plan, error) {
	return planReset(s.scanResult(), planOptions{Force: force})
}

// PlanAdd is the plan of add of files, verified and about to be held by
// the store under their Filename: the files o leaves out (OnlyNew,
// PreventDowngrade) are skip actions, the others are registered as the
// versions of their names.
func PlanAdd(s *Snapshot, files []AddedFile, o AddOptions) (*Plan, error) {
	sr := s.scanResult()
	reg := sr.entryByName()
	var added []verifiedFile
	var skips []Action
	for _, f := range files {
		a := &addedFile{src: f.Source, file: f.verified()}
		if skip := skipArg(a, reg[f.Name], o); skip != nil {
			skips = append(skips, *skip)
			continue
		}
		added = append(added, a.file)
	}
	return planAdd(sr, added, skips, planOptions{Force: o.Force})
}

// SignaturePolicy is what a repository asks of its packages' signatures:
// one rule for every store.
type SignaturePolicy struct {
	// Require refuses a package without its .sig.
	Require bool
	// Keyring, when set, must verify every signature; nil checks only
	// that a signature is well formed.
	Keyring *signature.Keyring
}

// signaturePolicy is the repository's.
func (r *Repo) signaturePolicy() SignaturePolicy {
	return SignaturePolicy{Require: r.opts.RequireSignature, Keyring: r.opts.Keyring}
}

// Judge judges the signature of the package file at path, read and
// verified as holding SHA-256 sha; its .sig is path+".sig" when hasSig. A
// package whose signature is missing when one is required, malformed or
// not verified is no candidate for anything: the returned Problem says
// why. Otherwise sigField is the %PGPSIG% of its .sig ("" when it has
// none).
func (p SignaturePolicy) Judge(path, sha string, hasSig bool) (sigField string, prob *Problem) {
	f := verifiedFile{SHA256: sha}
	prob = p.judge(path, &f, hasSig, nil)
	return f.SigField, prob
}

// judge is Judge of f; vouched, when set, tells whether the verification
// cache vouches for a signature of SHA-256 sigSHA over f's content (then
// it is not verified again). It sets f.HasSig, f.SigField and, for a
// signature verified now, f.sigSHA256.
func (p SignaturePolicy) judge(path string, f *verifiedFile, hasSig bool, vouched func(sigSHA string) bool) *Problem {
	if !hasSig {
		if p.Require {
			return &Problem{Path: path, Kind: pkgfile.Incomplete, Signature: signature.Missing, Err: ErrUnsigned}
		}
		return nil
	}
	f.HasSig = true
	sig, err := signature.ReadFile(path + ".sig")
	if err != nil {
		return &Problem{Path: path + ".sig", Signature: signature.Malformed, Err: err}
	}
	f.SigField = base64.StdEncoding.EncodeToString(sig)
	if p.Keyring == nil {
		return nil
	}
	sum := sha256.Sum256(sig)
	sigSHA := hex.EncodeToString(sum[:])
	if vouched != nil && vouched(sigSHA) {
		return nil
	}
	if prob := verifySignature(p.Keyring, path, f.SHA256, sig); prob != nil {
		f.SigField = ""
		return prob
	}
	f.sigSHA256 = sigSHA
	return nil
}

// verifySignature verifies the binary signature sig of the file at path,
// which must still hold the content of SHA-256 sha.
func verifySignature(keyring *signature.Keyring, path, sha string, sig []byte) *Problem {
	file, err := fsutil.OpenRegular(path)
	if err != nil {
		return &Problem{Path: path, Kind: pkgfile.OpenErrorKind(path, err), Err: err}
	}
	defer file.Close()
	h := sha256.New()
	_, verr := keyring.Verify(io.TeeReader(file, h), sig, path+".sig")
	io.Copy(h, file) // a failed check may stop reading early
	if hex.EncodeToString(h.Sum(nil)) != sha {
		return &Problem{Path: path, Kind: pkgfile.Incomplete, Err: errors.New("changed while its signature was checked")}
	}
	if verr != nil {
		return &Problem{Path: path + ".sig", Signature: signature.KindOf(verr), Err: verr}
	}
	return nil
}

// SignatureDetail says what is wrong with a package's signature, without
// the path the problem names.
func SignatureDetail(p Problem) string { return signatureDetail(p) }

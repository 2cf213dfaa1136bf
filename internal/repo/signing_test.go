package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/signature"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

func keyringOf(t *testing.T, keys ...*testutil.PGPKey) *signature.Keyring {
	var files []string
	for _, k := range keys {
		files = append(files, k.Keyring)
	}
	k, err := signature.LoadKeyring(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keySigner signs with key in-process, from its secret key file.
func keySigner(t *testing.T, key *testutil.PGPKey) *signature.KeySigner {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret.asc")
	if err := key.WriteSecret(secret); err != nil {
		t.Fatal(err)
	}
	signer, err := signature.NewKeySigner(secret, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// TestSignaturesVerified: with a keyring, a package counts only with a
// signature by one of its keys, in add and update; a .sig that appears or
// changes after registration is verified (and embedded by update with
// include-sigs only when good); check verifies every registered package's
// signature and its %PGPSIG%.
func TestSignaturesVerified(t *testing.T) {
	packager, stranger := testutil.NewPGPKey(t, "packager"), testutil.NewPGPKey(t, "stranger")
	r := withOpts(newRepo(t), func(o *Options) { o.Keyring = keyringOf(t, packager) })
	src := t.TempDir()
	good, bad := mkpkg(t, src, "good", "1-1"), mkpkg(t, src, "bad", "1-1")
	packager.SignFile(t, good)
	stranger.SignFile(t, bad)
	_, err := r.Add(ctx, []string{bad}, AddOptions{Mode: Copy})
	var ue *UnreadableFilesError
	if !errors.As(err, &ue) || ue.Problems[0].Signature != signature.UnknownKey {
		t.Fatalf("add of a package signed by an unknown key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), filepath.Base(bad)+".sig")); !os.IsNotExist(err) {
		t.Fatal("the refused signature was placed")
	}
	embed := Request{EmbedSignatures: true}
	if _, err := r.Add(ctx, []string{good}, AddOptions{Mode: Copy, Request: embed}); err != nil {
		t.Fatal(err)
	}
	// Dropped into the directory: the badly signed one is a problem.
	os.Rename(bad, filepath.Join(r.dir(), filepath.Base(bad)))
	os.Rename(bad+".sig", filepath.Join(r.dir(), filepath.Base(bad)+".sig"))
	res, err := r.Update(ctx, nil, embed)
	if err != nil || len(res.Plan.Problems) != 1 || registered(t, r)["bad"] != "" {
		t.Fatalf("update with a badly signed package: %v %+v %v", err, res, registered(t, r))
	}
	os.Remove(filepath.Join(r.dir(), filepath.Base(bad)))
	os.Remove(filepath.Join(r.dir(), filepath.Base(bad)+".sig"))
	assertClean(t, r)
	// The registered package's .sig replaced by another key's: check and
	// update report it, update does not embed it, the entry stays.
	reg := filepath.Join(r.dir(), filepath.Base(good))
	stranger.SignFile(t, reg)
	rep, err := r.Check(ctx, false)
	if err != nil || countFindings(rep, FindSignature) != 1 || countFindings(rep, FindEmbedded) != 1 {
		t.Fatalf("check: %v %+v", err, rep)
	}
	if res, err := r.Update(ctx, nil, embed); err != nil || len(res.Plan.Problems) != 1 {
		t.Fatalf("update: %v %+v", err, res)
	}
	if registered(t, r)["good"] != "1-1" || pgpSigs(t, r)["good"] != "" {
		t.Fatalf("the entry: %v, PGPSIG %q", registered(t, r), pgpSigs(t, r)["good"])
	}
	// A good signature again: picked up.
	packager.SignFile(t, reg)
	if _, err := r.Update(ctx, nil, embed); err != nil {
		t.Fatal(err)
	}
	if pgpSigs(t, r)["good"] == "" {
		t.Fatal("the good signature was not embedded")
	}
	assertClean(t, r)
}

// TestPackageSigner: add signs the packages that come without a .sig.
func TestPackageSigner(t *testing.T) {
	key := testutil.NewPGPKey(t, "farm")
	signer := keySigner(t, key)
	r := withOpts(newRepo(t), func(o *Options) {
		o.Keyring, o.PackageSigner, o.RequireSignature = keyringOf(t, key), signer, true
	})
	p := mkpkg(t, t.TempDir(), "a", "1-1")
	if _, err := r.Add(ctx, []string{p}, AddOptions{Mode: Move}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), filepath.Base(p)+".sig")); err != nil {
		t.Fatalf("no signature placed: %v", err)
	}
	assertClean(t, r)
}

// TestSignedDatabase: with a database signer, every write signs both
// databases; --verify refuses to change a database whose signature does
// not verify.
func TestSignedDatabase(t *testing.T) {
	key, stranger := testutil.NewPGPKey(t, "repo"), testutil.NewPGPKey(t, "stranger")
	signer := keySigner(t, key)
	r := withOpts(newRepo(t), func(o *Options) { o.DatabaseSigner, o.Keyring = signer, keyringOf(t, key) })
	src := t.TempDir()
	mustAdd(t, r, mkpkg(t, src, "a", "1-1"))
	verify := Request{VerifyDatabase: true}
	if _, err := r.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{Mode: Copy, Request: verify}); err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{r.opts.DB.DBPath(), r.opts.DB.FilesPath()} {
		sig, err := signature.ReadFile(db + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(db)
		if _, err := keyringOf(t, key).Verify(f, sig, db+".sig"); err != nil {
			t.Errorf("%s: %v", db, err)
		}
		f.Close()
	}
	stranger.SignFile(t, r.opts.DB.DBPath())
	if _, err := r.Remove(ctx, []string{"a"}, verify); signature.KindOf(err) != signature.UnknownKey {
		t.Fatalf("--verify of a database signed by another key: %v", err)
	}
	if registered(t, r)["a"] != "1-1" {
		t.Fatal("the database was changed")
	}
}

// TestSignatureNotDroppedSilently: a writer without a database signer
// (no sign_db, no -s) refuses to write a signed database unsigned, which
// would remove its signature and break clients that require one; the
// database and its signature stay as they were. Dropping the signature on
// purpose (UnsignDatabase) works.
func TestSignatureNotDroppedSilently(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	signer := keySigner(t, key)
	signed := withOpts(newRepo(t), func(o *Options) { o.DatabaseSigner = signer })
	src := t.TempDir()
	mustAdd(t, signed, mkpkg(t, src, "a", "1-1"))
	unsigned := withOpts(signed, func(o *Options) { o.DatabaseSigner = nil })
	sigs := []string{unsigned.opts.DB.DBPath() + ".sig", filepath.Join(unsigned.dir(), "test.db.sig")}
	_, err := unsigned.Add(ctx, []string{mkpkg(t, src, "b", "1-1")}, AddOptions{Mode: Copy})
	var ue *UnsignedDatabaseError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--unsign-db") || !strings.Contains(err.Error(), "sign_db") {
		t.Fatalf("unsigned write of a signed database: %v", err)
	}
	if got := registered(t, unsigned); len(got) != 1 {
		t.Fatalf("the refused change changed the database: %v", got)
	}
	for _, s := range sigs {
		if _, err := os.Stat(s); err != nil {
			t.Fatalf("the refused change dropped the signature: %v", err)
		}
	}
	if _, err := unsigned.Remove(ctx, []string{"a"}, Request{UnsignDatabase: true}); err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs {
		if _, err := os.Lstat(s); !os.IsNotExist(err) {
			t.Errorf("%s after dropping the signature on purpose: %v", s, err)
		}
	}
}

// TestRepairKeepsDatabaseSignature: check --repair (and recovery) rewrite
// both databases when the files database disagrees; without a signer that
// would drop a signed database's signature, so it is refused, and with
// the signer it is mended and signed.
func TestRepairKeepsDatabaseSignature(t *testing.T) {
	key := testutil.NewPGPKey(t, "repo")
	signer := keySigner(t, key)
	signed := withOpts(newRepo(t), func(o *Options) { o.DatabaseSigner = signer })
	src := t.TempDir()
	mustAdd(t, signed, mkpkg(t, src, "a", "1-1"))
	files := signed.opts.DB.FilesPath()
	older, err := os.ReadFile(files)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, signed, mkpkg(t, src, "b", "1-1"))
	if err := os.WriteFile(files, older, 0o644); err != nil {
		t.Fatal(err)
	}
	unsigned := withOpts(signed, func(o *Options) { o.DatabaseSigner = nil })
	rep, err := unsigned.Check(ctx, true)
	if err != nil || countFindings(rep, FindFilesDB) != 1 || rep.Findings[0].Repaired || !strings.Contains(rep.Findings[0].Detail, "is signed") {
		t.Fatalf("unsigned repair of a signed repository: %+v %v", rep, err)
	}
	if _, err := os.Stat(signed.opts.DB.DBPath() + ".sig"); err != nil {
		t.Fatalf("the refused repair dropped the signature: %v", err)
	}
	if rep, err := signed.Check(ctx, true); err != nil || countFindings(rep, FindFilesDB) != 1 || !rep.Findings[0].Repaired {
		t.Fatalf("signed repair: %+v %v", rep, err)
	}
	if _, err := os.Stat(signed.opts.DB.DBPath() + ".sig"); err != nil {
		t.Fatalf("the signed repair dropped the signature: %v", err)
	}
}

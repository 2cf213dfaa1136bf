package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
)

// TestSignedRepositoryEndToEnd: keys and package signatures made by real
// gpg; pacrepo verifies the packages in-process, refuses those without a
// good signature, and signs its databases (in-process with an armored
// secret key); gpg --verify accepts the database signatures; real pacman
// with SigLevel = Required DatabaseRequired and a keyring made by
// pacman-key syncs and downloads, from the directory and through host, and
// refuses a tampered package, a tampered database and a database signed
// by a key it does not trust.
func TestSignedRepositoryEndToEnd(t *testing.T) {
	t.Parallel() // drives processes: overlaps with the other end-to-end tests
	testutil.RequireTool(t, "pacman-key")
	pacrepo := pacrepoCommand(t)
	env := isolatedEnv(t)
	g := testutil.NewGPG(t)
	keys := t.TempDir()
	packager := g.GenKey("Packager <packager@test>", "ed25519", "never", "")
	repoKey := g.GenProtectedKey("Repository <repo@test>", "correct horse")
	stranger := g.GenKey("Stranger <stranger@test>", "rsa2048", "never", "")
	expired := g.GenKey("Expired <expired@test>", "ed25519", "1d", "20200101T000000")
	packagerPub := g.Export(packager, keys, true)
	repoPub := g.Export(repoKey, keys, false)
	repoSecret := g.ExportSecret(repoKey, keys, "correct horse")
	expiredPub := g.Export(expired, keys, true)

	src := t.TempDir()
	pkg := func(name string) string {
		return testutil.MustMakePackage(t, src, testutil.PackageSpec{Name: name, Version: "1.0-1", Arch: "any", NumFiles: 3})
	}
	good, strange, old, unsigned, garbage := pkg("good"), pkg("strange"), pkg("old"), pkg("unsigned"), pkg("garbage")
	g.Sign(packager, good, "")
	g.Sign(stranger, strange, "")
	g.Sign(expired, old, "20200101T120000")
	os.WriteFile(garbage+".sig", []byte(strings.Repeat("\x89not a signature", 20)), 0o644)

	dir := filepath.Join(t.TempDir(), "repo")
	db := filepath.Join(dir, "signed.db.tar.zst")
	config := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(config, []byte(fmt.Sprintf(`[profiles.main]
repo = %q
require_signature = true
keyring = [%q, %q]
sign_db = true
sign_key_file = %q
`, db, packagerPub, expiredPub, repoSecret)), 0o644)
	env = append(env, "PACREPO_CONFIG="+config, "PACREPO_SIGN_PASSPHRASE=correct horse")
	run := func(args ...string) (string, int) {
		cmd := exec.Command(pacrepo, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	// Only the package with a good signature is added; each refusal names
	// the file and why.
	for file, want := range map[string]string{
		strange:  "signature by an unknown key",
		old:      "expired signature or key",
		unsigned: "missing signature",
		garbage:  "malformed signature",
	} {
		out, code := run("add", file)
		if code == 0 || !strings.Contains(out, want) || !strings.Contains(out, filepath.Base(file)) {
			t.Errorf("add %s: exit %d, want a refusal saying %q:\n%s", filepath.Base(file), code, want, out)
		}
	}
	if out, code := run("add", good); code != 0 {
		t.Fatalf("add of a well-signed package: exit %d\n%s", code, out)
	}
	if out, code := run("check"); code != 0 {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	for _, sig := range []string{db + ".sig", filepath.Join(dir, "signed.files.tar.zst.sig")} {
		if out, ok := g.Verify(sig, strings.TrimSuffix(sig, ".sig")); !ok {
			t.Errorf("gpg --verify %s:\n%s", sig, out)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "signed.db.sig")); err != nil || target != "signed.db.tar.zst.sig" {
		t.Errorf("signed.db.sig -> %q, %v", target, err)
	}

	// Real pacman requiring signatures, through file:// and through host.
	trust := map[string]string{packager: packagerPub, repoKey: repoPub}
	pm := testutil.NewPacman(t, map[string]string{"signed": dir})
	pm.RequireSignatures(trust)
	pm.MustRun("-Syy")
	pm.MustRun("-Sw", "good")
	url, _ := startHostProcess(t, pacrepo, env, db, "signed")
	viaHost := testutil.NewPacman(t, map[string]string{"signed": url})
	viaHost.RequireSignatures(trust)
	viaHost.MustRun("-Syy")
	viaHost.MustRun("-Sw", "good")

	// A tampered package is refused.
	tampered := testutil.NewPacman(t, map[string]string{"signed": dir})
	tampered.RequireSignatures(trust)
	tampered.MustRun("-Syy")
	file := filepath.Join(dir, filepath.Base(good))
	orig, _ := os.ReadFile(file)
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 0xff
	os.WriteFile(file, bad, 0o644)
	if out, err := tampered.Run("-Sw", "good"); err == nil {
		t.Errorf("pacman downloaded a tampered package:\n%s", out)
	}
	os.WriteFile(file, orig, 0o644)

	// A tampered database, and one signed by a key pacman does not trust.
	dbBytes, _ := os.ReadFile(db)
	sigBytes, _ := os.ReadFile(db + ".sig")
	if out, code := run("--repo", db, "reset"); code != 0 { // the same database, written again
		t.Fatalf("reset: %v\n%s", code, out)
	}
	os.WriteFile(db, append(append([]byte(nil), dbBytes...), 0), 0o644)
	if out, err := testPacman(t, dir, trust).Run("-Syy"); err == nil {
		t.Errorf("pacman accepted a tampered database:\n%s", out)
	}
	os.WriteFile(db, dbBytes, 0o644)
	os.WriteFile(db+".sig", sigBytes, 0o644)
	g.Sign(stranger, db, "")
	if out, err := testPacman(t, dir, trust).Run("-Syy"); err == nil {
		t.Errorf("pacman accepted a database signed by a key it does not trust:\n%s", out)
	}
}

func testPacman(t *testing.T, dir string, trust map[string]string) *testutil.Pacman {
	pm := testutil.NewPacman(t, map[string]string{"signed": dir})
	pm.RequireSignatures(trust)
	return pm
}

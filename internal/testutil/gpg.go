package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GPG is the real gpg with a GnuPG home of its own in a temporary
// directory: the oracle that makes the keys and signatures pacrepo
// verifies, and verifies the signatures pacrepo makes.
type GPG struct {
	t    testing.TB
	Home string
}

// NewGPG makes an empty GnuPG home. gpg-agent sockets live under it, so
// the path must stay short: it is made directly in $TMPDIR.
func NewGPG(t testing.TB) *GPG {
	t.Helper()
	RequireTool(t, "gpg")
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	g := &GPG{t: t, Home: home}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	return g
}

// Run runs gpg with args in this home and returns its standard output; a
// failure ends the test.
func (g *GPG) Run(args ...string) string {
	g.t.Helper()
	out, err := g.run(args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (g *GPG) run(args ...string) (string, error) {
	cmd := exec.Command("gpg", append([]string{"--homedir", g.Home, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out) + string(ee.Stderr), err
	}
	return string(out), err
}

// GenKey makes a key of algo ("rsa2048", "ed25519") for signing, expiring
// at expire ("never", "1d", ...), and returns its fingerprint. With
// fakedTime (gpg's --faked-system-time, e.g. "20200101T000000") the key is
// made as of that time: a past time and a short expiry give an expired key.
func (g *GPG) GenKey(uid, algo, expire, fakedTime string) string {
	g.t.Helper()
	args := []string{"--quick-gen-key", uid, algo, "sign", expire}
	if fakedTime != "" {
		args = append([]string{"--faked-system-time", fakedTime}, args...)
	}
	g.Run(args...)
	return g.Fingerprint(uid)
}

// Fingerprint is the primary key fingerprint of the key of uid.
func (g *GPG) Fingerprint(uid string) string {
	g.t.Helper()
	for _, line := range strings.Split(g.Run("--with-colons", "--list-keys", uid), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			return f[9]
		}
	}
	g.t.Fatalf("no fingerprint for %s", uid)
	return ""
}

// AddSigningSubkey adds an ed25519 signing subkey and returns its
// fingerprint.
func (g *GPG) AddSigningSubkey(fpr string) string {
	g.t.Helper()
	g.Run("--quick-add-key", fpr, "ed25519", "sign", "never")
	var last string
	inSub := false
	for _, line := range strings.Split(g.Run("--with-colons", "--list-keys", fpr), "\n") {
		f := strings.Split(line, ":")
		switch {
		case len(f) > 0 && f[0] == "sub":
			inSub = true
		case len(f) > 9 && f[0] == "fpr" && inSub:
			last = f[9]
		}
	}
	return last
}

// Sign makes a binary detached signature of file with the key (a
// fingerprint) and returns its path, file + ".sig". fakedTime as GenKey.
func (g *GPG) Sign(key, file, fakedTime string) string {
	g.t.Helper()
	args := []string{"--yes", "--local-user", key + "!", "--detach-sign", "--output", file + ".sig", file}
	if fakedTime != "" {
		args = append([]string{"--faked-system-time", fakedTime}, args...)
	}
	g.Run(args...)
	return file + ".sig"
}

// Export writes the public key fpr to a file in dir (armored or binary)
// and returns its path.
func (g *GPG) Export(fpr, dir string, armored bool) string {
	g.t.Helper()
	path := filepath.Join(dir, fpr+".pub")
	args := []string{"--yes", "--output", path}
	if armored {
		args = append(args, "--armor")
	}
	g.Run(append(args, "--export", fpr)...)
	return path
}

// GenProtectedKey makes an ed25519 signing key protected by passphrase
// and returns its fingerprint.
func (g *GPG) GenProtectedKey(uid, passphrase string) string {
	g.t.Helper()
	cmd := exec.Command("gpg", "--homedir", g.Home, "--batch", "--no-tty", "--pinentry-mode", "loopback",
		"--passphrase", passphrase, "--quick-gen-key", uid, "ed25519", "sign", "never")
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	return g.Fingerprint(uid)
}

// ExportSecret writes the secret key fpr, armored, to a file in dir and
// returns its path; passphrase is the key's ("" for none).
func (g *GPG) ExportSecret(fpr, dir, passphrase string) string {
	g.t.Helper()
	path := filepath.Join(dir, fpr+".sec.asc")
	cmd := exec.Command("gpg", "--homedir", g.Home, "--batch", "--yes", "--pinentry-mode", "loopback",
		"--passphrase", passphrase, "--armor", "--output", path, "--export-secret-keys", fpr)
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("gpg --export-secret-keys: %v\n%s", err, out)
	}
	return path
}

// Revoke revokes the key fpr with the revocation certificate gpg made
// when it generated the key.
func (g *GPG) Revoke(fpr string) {
	g.t.Helper()
	cert := filepath.Join(g.Home, "openpgp-revocs.d", fpr+".rev")
	b, err := os.ReadFile(cert)
	if err != nil {
		g.t.Fatal(err)
	}
	// The certificate is disarmed by a ':' before its armor line.
	fixed := strings.Replace(string(b), ":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)
	if err := os.WriteFile(cert+".asc", []byte(fixed), 0o600); err != nil {
		g.t.Fatal(err)
	}
	g.Run("--import", cert+".asc")
}

// Verify runs gpg --verify of sig over file and reports whether it is good.
func (g *GPG) Verify(sig, file string) (string, bool) {
	out, err := g.run("--verify", sig, file)
	return out, err == nil
}

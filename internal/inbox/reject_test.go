package inbox

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReject: a refused upload and its .sig move into the rejected
// directory beside a reason; a name taken there gets a numbered suffix,
// never replacing a file.
func TestReject(t *testing.T) {
	inbox := t.TempDir()
	rejected := filepath.Join(inbox, "rejected")
	for i, dir := range []string{rejected, crossDevice(t, inbox)} {
		if dir == "" {
			t.Log("no second file system (/dev/shm) for the cross-device case")
			continue
		}
		for round := range 2 {
			up := filepath.Join(inbox, "a-1-1-any.pkg.tar.zst")
			os.WriteFile(up, []byte("garbage"), 0o644)
			os.WriteFile(up+".sig", []byte("sig"), 0o644)
			to, err := reject(up, dir, "corrupt: not a package")
			if err != nil {
				t.Fatalf("case %d round %d: %v", i, round, err)
			}
			want := filepath.Join(dir, "a-1-1-any.pkg.tar.zst")
			if round == 1 {
				want += ".1"
			}
			if to != want {
				t.Errorf("moved to %s, want %s", to, want)
			}
			for _, f := range []string{up, up + ".sig"} {
				if _, err := os.Stat(f); !os.IsNotExist(err) {
					t.Errorf("%s is still in the inbox: %v", f, err)
				}
			}
			if data, err := os.ReadFile(to); err != nil || string(data) != "garbage" {
				t.Errorf("rejected file: %q %v", data, err)
			}
			if data, err := os.ReadFile(to + ".sig"); err != nil || string(data) != "sig" {
				t.Errorf("rejected .sig: %q %v", data, err)
			}
			if data, err := os.ReadFile(to + ".reason"); err != nil || !strings.HasPrefix(string(data), "corrupt: not a package\n") {
				t.Errorf("reason: %q %v", data, err)
			}
		}
	}
}

// crossDevice returns a directory on another file system than dir, or "".
func crossDevice(t *testing.T, dir string) string {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat("/dev/shm", &b) != nil || a.Dev == b.Dev {
		return ""
	}
	other, err := os.MkdirTemp("/dev/shm", "pacrepo-rejected-")
	if err != nil {
		return ""
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	return other
}

// TestRejectNotRegular: a symbolic link and a FIFO are rejected as what
// they are, on the same file system and across: a link stays a link with
// its target (whose content is never copied), a FIFO stays a FIFO (and is
// never opened).
func TestRejectNotRegular(t *testing.T) {
	inbox := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("only watch's user may read this"), 0o600)
	dirs := []string{filepath.Join(inbox, "rejected")}
	if other := crossDevice(t, inbox); other != "" {
		dirs = append(dirs, other)
	} else {
		t.Log("no second file system (/dev/shm) for the cross-device case")
	}
	for _, dir := range dirs {
		link := filepath.Join(inbox, "link-1-1-any.pkg.tar.zst")
		fifo := filepath.Join(inbox, "fifo-1-1-any.pkg.tar.zst")
		if err := os.Symlink(secret, link); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		for path, mode := range map[string]os.FileMode{link: os.ModeSymlink, fifo: os.ModeNamedPipe} {
			to, err := reject(path, dir, "not an upload")
			if err != nil {
				t.Fatalf("%s to %s: %v", path, dir, err)
			}
			fi, err := os.Lstat(to)
			if err != nil || fi.Mode().Type() != mode {
				t.Errorf("%s rejected as %v (%v), want %v", path, fi.Mode().Type(), err, mode)
			}
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("%s is still in the inbox: %v", path, err)
			}
		}
		if target, err := os.Readlink(filepath.Join(dir, "link-1-1-any.pkg.tar.zst")); err != nil || target != secret {
			t.Errorf("rejected link leads to %q (%v), want %q", target, err, secret)
		}
	}
}

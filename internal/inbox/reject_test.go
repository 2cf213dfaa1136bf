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

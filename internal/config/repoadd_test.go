package config

import (
	"strings"
	"testing"
)

// TestRepoAddParams: every option of repo-add and repo-remove in
// add_params and rm_params is honoured with its meaning or refused; none
// is ignored.
func TestRepoAddParams(t *testing.T) {
	tests := []struct {
		name    string
		keys    string
		wantErr string // substring; "" means success
		check   func(t *testing.T, p *Profile)
	}{
		{name: "signing", keys: `add_params = ["--sign", "--key", "ABCDEF", "-v"]`, check: func(t *testing.T, p *Profile) {
			if !p.SignsDatabases() || p.SigningKey() != "ABCDEF" || !p.AddOptions.Verify {
				t.Errorf("got %+v", p.AddOptions)
			}
		}},
		{name: "short combined", keys: `add_params = ["-npsRwqkKEY1"]`, check: func(t *testing.T, p *Profile) {
			want := RepoAddParams{New: true, PreventDowngrade: true, Sign: true, Quiet: true, Key: "KEY1"}
			if p.AddOptions != want {
				t.Errorf("got %+v, want %+v", p.AddOptions, want)
			}
		}},
		{name: "long forms", keys: `add_params = ["--new", "--prevent-downgrade", "--remove", "--include-sigs", "--quiet", "--nocolor", "--wait-for-lock", "--verify", "--key=K"]`,
			check: func(t *testing.T, p *Profile) {
				want := RepoAddParams{New: true, PreventDowngrade: true, IncludeSigs: true, Quiet: true, NoColor: true, Verify: true, Key: "K"}
				if p.AddOptions != want {
					t.Errorf("got %+v, want %+v", p.AddOptions, want)
				}
			}},
		{name: "rm_params sign", keys: `rm_params = ["-s", "-k", "K", "-v", "-q", "--nocolor", "-w"]`, check: func(t *testing.T, p *Profile) {
			want := RepoAddParams{Sign: true, Key: "K", Verify: true, Quiet: true, NoColor: true}
			if p.RmOptions != want || !p.SignsDatabases() || p.SigningKey() != "K" {
				t.Errorf("got %+v, want %+v", p.RmOptions, want)
			}
		}},
		{name: "unknown long", keys: `add_params = ["--frobnicate"]`, wantErr: `profiles.a.add_params: "--frobnicate" is not an option of repo-add`},
		{name: "unknown short", keys: `add_params = ["-sx"]`, wantErr: `profiles.a.add_params: "-x" is not an option of repo-add`},
		{name: "not an option", keys: `add_params = ["foo.pkg.tar.zst"]`, wantErr: `profiles.a.add_params: "foo.pkg.tar.zst" is not an option`},
		{name: "key without value", keys: `add_params = ["-s", "--key"]`, wantErr: `"--key" needs a key`},
		{name: "value to a flag", keys: `add_params = ["--sign=yes"]`, wantErr: `takes no value`},
		{name: "repo-add's in rm_params", keys: `rm_params = ["-n"]`, wantErr: `profiles.a.rm_params: "-n" is repo-add's option, not repo-remove's`},
		{name: "keys disagree", keys: "sign_key = \"AAAA\"\nadd_params = [\"-s\", \"-k\", \"BBBB\"]", wantErr: "disagrees"},
		{name: "keys agree", keys: "sign_key = \"AAAA\"\nadd_params = [\"-s\", \"-k\", \"aaaa\"]", check: func(t *testing.T, p *Profile) {
			if p.SigningKey() != "AAAA" {
				t.Errorf("key %q", p.SigningKey())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Parse([]byte("[profiles.a]\nrepo = \"/r/a.db.tar.zst\"\n"+tt.keys+"\n"), "f.toml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Profiles["a"])
		})
	}
}

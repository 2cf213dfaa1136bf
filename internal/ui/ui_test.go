package ui

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestColorEnabled(t *testing.T) {
	var pipe bytes.Buffer
	tests := []struct {
		mode   string
		getenv func(string) string
		want   bool
	}{
		{"always", env(), true},
		{"on", env(), true},
		{"always", env("NO_COLOR", "1"), true}, // an explicit request wins
		{"never", env(), false},
		{"off", env(), false},
		{"auto", env(), false}, // a buffer is not a terminal
		{"", env(), false},
		{"auto", env("NO_COLOR", "1"), false},
	}
	for _, tt := range tests {
		if got := ColorEnabled(tt.mode, &pipe, tt.getenv); got != tt.want {
			t.Errorf("ColorEnabled(%q) = %v, want %v", tt.mode, got, tt.want)
		}
	}
	// A regular file is not a terminal either.
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ColorEnabled("auto", f, env()) || IsTerminal(f) {
		t.Error("a file counts as a terminal")
	}
}

func TestColorHelpers(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, &out, "always", false)
	if g := u.Green("ok"); g == "ok" || !strings.Contains(g, "ok") || !strings.HasPrefix(g, "\x1b[") {
		t.Errorf("always: %q", g)
	}
	u = New(&out, &out, "never", false)
	for _, s := range []string{u.Green("x"), u.Yellow("x"), u.Red("x"), u.Bold("x")} {
		if s != "x" {
			t.Errorf("never: %q", s)
		}
	}
	u = New(&out, &out, "auto", false)
	if u.Red("x") != "x" || u.ColorOn() {
		t.Error("auto on a buffer coloured")
	}
}

func TestProgressEnabled(t *testing.T) {
	var pipe bytes.Buffer
	if ProgressEnabled(&pipe, false, env()) {
		t.Error("progress on a pipe")
	}
	// Whatever the writer, CI and quiet switch it off; these must not
	// depend on the test's own terminal.
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err == nil {
		defer tty.Close()
		if !ProgressEnabled(tty, false, env()) {
			t.Error("no progress on a terminal")
		}
		if ProgressEnabled(tty, false, env("CI", "true")) || ProgressEnabled(tty, true, env()) || ProgressEnabled(tty, false, env("TERM", "dumb")) {
			t.Error("progress despite CI, quiet or TERM=dumb")
		}
		if !ProgressEnabled(tty, false, env("CI", "false")) {
			t.Error("CI=false counted as CI")
		}
	}
}

func TestProgressDrawsNothingOnAPipe(t *testing.T) {
	var out, errOut bytes.Buffer
	u := New(&out, &errOut, "always", false)
	report := u.Progress(10, "reading")
	for i := 0; i <= 10; i++ {
		report(i, 10)
	}
	report(3, 20)
	u.Finish()
	u.Infof("done %d", 1)
	if out.Len() != 0 || errOut.String() != "done 1\n" {
		t.Errorf("out %q err %q", out.String(), errOut.String())
	}
	u = New(&out, &errOut, "never", true)
	errOut.Reset()
	u.Infof("hidden")
	u.Warnf("shown %s", "w")
	if errOut.String() != "warning: shown w\n" {
		t.Errorf("quiet: %q", errOut.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	v := map[string]any{"b": 1, "a": []string{"<x>"}, "c": map[string]int{"z": 1, "y": 2}}
	if err := WriteJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	want := `{
  "a": [
    "<x>"
  ],
  "b": 1,
  "c": {
    "y": 2,
    "z": 1
  }
}
`
	if b.String() != want {
		t.Errorf("got\n%s", b.String())
	}
}

func TestColumns(t *testing.T) {
	tests := []struct {
		items []string
		width int
		want  string
	}{
		{nil, 80, ""},
		{[]string{"a", "b", "c"}, 80, "a  b  c\n"},
		{[]string{"one", "two", "three", "four", "five"}, 14, "one    four\ntwo    five\nthree\n"},
		{[]string{"averyveryverylongname", "b"}, 10, "averyveryverylongname\nb\n"},
		{[]string{"aa", "b", "cc", "d"}, 6, "aa  cc\nb   d\n"},
		{[]string{"é", "ü"}, 0, "é  ü\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Columns(&b, tt.items, tt.width); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("Columns(%q, %d) =\n%q\nwant\n%q", tt.items, tt.width, b.String(), tt.want)
		}
		for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
			if len([]rune(line)) > max(tt.width, 80) && len(strings.Fields(line)) > 1 {
				t.Errorf("line %q wider than %d", line, tt.width)
			}
		}
	}
}

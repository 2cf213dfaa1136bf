package server

import (
	"strings"
	"testing"
)

// FuzzReadCredentials: a credentials file never panics the reader, a file
// that holds one accepted "user:password" line lets exactly that user in
// with exactly that password, and an error never quotes the password.
func FuzzReadCredentials(f *testing.F) {
	f.Add("# readers\nalice:s3cret\n\nbob:pa:ss:word\r\n", "alice", "s3cret")
	f.Add("carol\n", "carol", "hunter22")
	f.Add(":nouser\n", "", "nouser")
	f.Add("dave:\n", "dave", "")
	f.Add("e\rve:longpassword\n", "e\rve", "longpassword")
	f.Add("   # indented comment\n\tfrank:x\n", "\tfrank", "x")
	f.Fuzz(func(t *testing.T, file, user, password string) {
		c := NewCredentials()
		_ = ReadCredentials(strings.NewReader(file), c) // any file: no panic

		line := user + ":" + password
		c = NewCredentials()
		err := ReadCredentials(strings.NewReader(line+"\n"), c)
		if err != nil {
			if len(password) >= 6 && !strings.Contains(user, password) && strings.Contains(err.Error(), password) {
				t.Fatalf("error %q quotes the password", err)
			}
			return
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.ContainsAny(line, "\n") ||
			strings.Contains(user, ":") {
			return // a comment, more than one line, or another split
		}
		pw := strings.TrimRight(password, "\r")
		if !c.Check(user, pw) {
			t.Fatalf("line %q accepted, but %q/%q is refused", line, user, pw)
		}
		if c.Check(user, pw+"x") || (pw != "" && c.Check(user, pw[:len(pw)-1])) {
			t.Fatalf("line %q: a wrong password is accepted", line)
		}
	})
}

package cli

import "testing"

func TestTypedCommandLeavesOutPasswords(t *testing.T) {
	got := typedCommand([]string{"add", "--s3-endpoint=http://me:secret@127.0.0.1:9000", "http://u:p@h/x", "./a b.pkg.tar.zst"})
	want := "pacrepo add --s3-endpoint=http://me:REDACTED@127.0.0.1:9000 http://u:REDACTED@h/x ./a b.pkg.tar.zst"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

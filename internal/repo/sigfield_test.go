package repo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSignatureField(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]struct {
		path string
		want string
	}{
		"binary":  {write("a.sig", []byte{0x89, 0x01, 0x33}), "iQEz"},
		"limit":   {write("b.sig", bytes.Repeat([]byte{1}, maxEmbeddedSig)), "AQEB"},
		"large":   {write("c.sig", bytes.Repeat([]byte{1}, maxEmbeddedSig+1)), ""},
		"armored": {write("d.sig", []byte("-----BEGIN PGP SIGNATURE-----\nxx\n")), ""},
		"empty":   {write("e.sig", nil), ""},
		"missing": {filepath.Join(dir, "none.sig"), ""},
	}
	for name, c := range cases {
		got := signatureField(c.path)
		if len(got) > 4 {
			got = got[:4]
		}
		if got != c.want {
			t.Errorf("%s: signatureField = %q..., want %q", name, got, c.want)
		}
	}
}

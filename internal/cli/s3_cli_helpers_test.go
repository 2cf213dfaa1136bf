package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pacrepo/pacrepo/internal/testutil"
	"github.com/pacrepo/pacrepo/internal/testutil/pkggen"
)

// bucketAddr is the repository the bucket end-to-end tests work on.
const bucketAddr = "s3://farm/x86_64/farm.db.tar.zst"

// bucketCLI is the pacrepo command against a bucket "farm" of a real
// S3-compatible server: its environment, small packages to add, and a
// runner of pacrepo on bucketAddr.
type bucketCLI struct {
	t       *testing.T
	pacrepo string
	env     []string
	src     string
	server  *testutil.S3Server
}

func newBucketCLI(t *testing.T) *bucketCLI {
	t.Helper()
	srv := testutil.StartS3(t, "farm")
	return &bucketCLI{t: t, pacrepo: pacrepoCommand(t), env: append(isolatedEnv(t), srv.Env()...), src: t.TempDir(), server: srv}
}

// pkg makes a small package NAME of version ver.
func (b *bucketCLI) pkg(name, ver string) string {
	b.t.Helper()
	p, err := pkggen.MakePackage(b.src, pkggen.Spec{Name: name, Version: ver, NumFiles: 1, FileSize: 100})
	if err != nil {
		b.t.Fatal(err)
	}
	return p
}

// run runs pacrepo --repo bucketAddr ARGS and returns its output; the
// test fails unless the command fails exactly when wantErr.
func (b *bucketCLI) run(wantErr bool, args ...string) string {
	b.t.Helper()
	out, err := runPacrepo(context.Background(), b.pacrepo, b.env, append([]string{"--repo", bucketAddr}, args...)...)
	if (err != nil) != wantErr {
		b.t.Fatalf("pacrepo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

package testutil

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// S3Server is a real S3-compatible server (versitygw) serving a temporary
// directory, for the object storage tests.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	// Root holds one directory per bucket; an object is the file
	// Root/BUCKET/KEY.
	Root string
}

// VersityGW returns the versitygw binary: $PACREPO_VERSITYGW (which
// scripts/test.sh sets after building it) or versitygw on PATH; it ends the
// test when there is none.
func VersityGW(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PACREPO_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PACREPO_VERSITYGW=%s: %v", p, err)
		}
		return p
	}
	p, err := exec.LookPath("versitygw")
	if err != nil {
		Unavailable(t, "versitygw not found: run scripts/build-versitygw.sh and set PACREPO_VERSITYGW (scripts/test.sh does)")
	}
	return p
}

// StartS3 starts versitygw on a free port with the given buckets; the test's
// cleanup stops it.
func StartS3(t testing.TB, buckets ...string) *S3Server {
	t.Helper()
	s, stop, err := startS3(VersityGW(t), t.TempDir(), buckets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// shared is the server SharedS3 starts once per test binary.
var shared struct {
	sync.Mutex
	server *S3Server
	stop   func()
	dir    string
	made   int // buckets made, for names of their own
}

// SharedS3 is one server for the whole test binary (started at the first
// call: a start costs a process and its page faults, on a VM about as much
// CPU as a small test), with a bucket of its own for the test: bucket with
// a suffix that no other test has. The test's cleanup deletes the bucket;
// the package's TestMain stops the server (StopSharedS3).
func SharedS3(t testing.TB, bucket string) (*S3Server, string) {
	t.Helper()
	bin := VersityGW(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.server == nil {
		// Not "pacrepo-s3-": that is the prefix of pacrepo's own
		// temporary directories, which a look at the temporary directory
		// must tell apart from the tests'.
		dir, err := os.MkdirTemp("", "pacrepo-test-s3-")
		if err != nil {
			t.Fatal(err)
		}
		s, stop, err := startS3(bin, dir)
		if err != nil {
			os.RemoveAll(dir)
			t.Fatal(err)
		}
		shared.server, shared.stop, shared.dir = s, stop, dir
	}
	shared.made++
	name := fmt.Sprintf("%s-%d", bucket, shared.made)
	path := filepath.Join(shared.server.Root, name)
	// versitygw's posix backend serves every directory of its root as a
	// bucket, made before or after it started.
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(path) })
	return shared.server, name
}

// StopSharedS3 stops the server SharedS3 started, if any, and deletes its
// files; a TestMain calls it after the tests ran.
func StopSharedS3() {
	shared.Lock()
	defer shared.Unlock()
	if shared.server == nil {
		return
	}
	shared.stop()
	os.RemoveAll(shared.dir)
	shared.server = nil
}

// startS3 starts versitygw serving a root under dir with the given
// buckets; stop stops it.
func startS3(bin, dir string, buckets ...string) (_ *S3Server, stop func(), _ error) {
	s := &S3Server{AccessKey: "pacrepo-test", SecretKey: "pacrepo-test-secret", Root: filepath.Join(dir, "root")}
	for _, b := range append([]string{""}, buckets...) {
		if err := os.MkdirAll(filepath.Join(s.Root, b), 0o755); err != nil {
			return nil, nil, err
		}
	}
	// Metadata (ETags, checksums, user metadata) goes to a sidecar
	// directory, so that the tests need no file system with extended
	// attributes.
	meta := filepath.Join(dir, "meta")
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return nil, nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		logPath := filepath.Join(dir, "versitygw.log")
		log, err := os.Create(logPath)
		if err != nil {
			return nil, nil, err
		}
		cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", addr, "--quiet",
			"posix", "--sidecar", meta, s.Root)
		cmd.Stdout, cmd.Stderr = log, log
		// Its own process group: the cleanup stops it, and only it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			log.Close()
			return nil, nil, fmt.Errorf("start versitygw: %w", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); log.Close(); close(exited) }()
		if err := waitListening(addr, exited); err != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			out, _ := os.ReadFile(logPath)
			lastErr = fmt.Errorf("%w; its output:\n%s", err, out)
			continue // the port was taken meanwhile: another one
		}
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		s.Endpoint = "http://" + addr
		return s, stop, nil
	}
	return nil, nil, fmt.Errorf("versitygw did not start: %w", lastErr)
}

// Env is the environment a pacrepo process needs to reach s, with nothing
// of the user's own AWS configuration.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetEnv sets Env in the test's own process.
func (s *S3Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until the server answers HTTP at addr.
func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at start")
		default:
		}
		if resp, err := client.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			// Something answers; if it is not versitygw (another server
			// took the port first), versitygw has failed to listen and
			// exits at once.
			select {
			case <-exited:
				return fmt.Errorf("versitygw exited at start (%s taken?)", addr)
			case <-time.After(200 * time.Millisecond):
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not answer on %s within 30s", addr)
}

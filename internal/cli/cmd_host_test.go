package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/repo"
	"github.com/pacrepo/pacrepo/internal/repodb"
	"github.com/pacrepo/pacrepo/internal/testutil"
)

// lockedBuffer collects the server's standard error from its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hostTestRepo makes a repository NAME with one package through the repo
// package and returns its database path.
func hostTestRepo(t *testing.T, name string) string {
	t.Helper()
	dir, src := t.TempDir(), t.TempDir()
	pkg := testutil.MustMakePackage(t, src, testutil.PackageSpec{Name: name + "-pkg", Version: "1.0-1", Arch: "any"})
	db := filepath.Join(dir, name+".db.tar.zst")
	loc, err := repodb.ParseLocation(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.New(repo.Options{DB: loc, LockTimeout: 10 * time.Second}).Add(context.Background(), []string{pkg}, repo.AddOptions{Mode: repo.Copy}); err != nil {
		t.Fatal(err)
	}
	return db
}

// startHost runs the host command's run function until the test ends and
// returns the base URL and its standard error.
func startHost(t *testing.T, g *Globals, o *hostOptions) (string, *lockedBuffer) {
	t.Helper()
	stderr := &lockedBuffer{}
	g.Stdout, g.Stderr = io.Discard, stderr
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	o.accessLog = true
	o.writeIdleTimeout = time.Minute
	o.shutdownTimeout = 5 * time.Second
	addrc := make(chan string, 1)
	o.ready = func(addr string) { addrc <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runHost(ctx, g, o) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("host: %v\n%s", err, stderr)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("host after cancel: %v", err)
		}
		if !strings.Contains(stderr.String(), "server stopped") {
			t.Errorf("no stop message:\n%s", stderr)
		}
	})
	return "http://" + addr, stderr
}

func statusOf(t *testing.T, url, user, password string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHostRepoFlag(t *testing.T) {
	db := hostTestRepo(t, "hostrepo")
	url, stderr := startHost(t, &Globals{Repo: db}, &hostOptions{})
	if code := statusOf(t, url+"/hostrepo/hostrepo.db", "", ""); code != 200 {
		t.Errorf("database: status %d", code)
	}
	if code := statusOf(t, url+"/hostrepo/hostrepo-pkg-1.0-1-any.pkg.tar.zst", "", ""); code != 200 {
		t.Errorf("package: status %d", code)
	}
	if code := statusOf(t, url+"/hostrepo/", "", ""); code != 404 {
		t.Errorf("listing without --list: status %d", code)
	}
	out := stderr.String()
	for _, want := range []string{"serving hostrepo from " + filepath.Dir(db), url + "/hostrepo", "path=/hostrepo/hostrepo.db status=200", "status=404"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("warning on loopback:\n%s", out)
	}
}

func TestHostAllProfiles(t *testing.T) {
	a, b := hostTestRepo(t, "first"), hostTestRepo(t, "second")
	cfg := filepath.Join(t.TempDir(), "config.toml")
	content := "default_profile = \"a\"\n[profiles.a]\nrepo = \"" + a + "\"\n[profiles.b]\nrepo = \"" + b + "\"\n"
	if err := os.WriteFile(cfg, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// No --repo, no -P: every profile is served.
	url, _ := startHost(t, &Globals{ConfigFile: cfg}, &hostOptions{list: true})
	for _, p := range []string{"/first/first.db", "/second/second.files", "/", "/second/"} {
		if code := statusOf(t, url+p, "", ""); code != 200 {
			t.Errorf("GET %s: status %d", p, code)
		}
	}
	// --profiles picks some.
	url, _ = startHost(t, &Globals{ConfigFile: cfg}, &hostOptions{profiles: []string{"b"}})
	if code := statusOf(t, url+"/first/first.db", "", ""); code != 404 {
		t.Errorf("unselected profile: status %d", code)
	}
	if code := statusOf(t, url+"/second/second.db", "", ""); code != 200 {
		t.Errorf("selected profile: status %d", code)
	}
	// -P too.
	url, _ = startHost(t, &Globals{ConfigFile: cfg, Profile: "a"}, &hostOptions{})
	if code := statusOf(t, url+"/first/first.db", "", ""); code != 200 {
		t.Errorf("-P a: status %d", code)
	}
}

func TestHostAuth(t *testing.T) {
	db := hostTestRepo(t, "private")
	authFile := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(authFile, []byte("alice:wonder:land\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envHostAuth, "bob:builder")
	url, _ := startHost(t, &Globals{Repo: db}, &hostOptions{authFile: authFile})
	target := url + "/private/private.db"
	for _, c := range []struct {
		user, password string
		want           int
	}{
		{"", "", 401}, {"alice", "wonder", 401}, {"alice", "wonder:land", 200}, {"bob", "builder", 200}, {"bob", "x", 401},
	} {
		if code := statusOf(t, target, c.user, c.password); code != c.want {
			t.Errorf("%s:%s: status %d, want %d", c.user, c.password, code, c.want)
		}
	}
}

func TestHostWarnsOnPublicAddress(t *testing.T) {
	db := hostTestRepo(t, "pub")
	url, stderr := startHost(t, &Globals{Repo: db}, &hostOptions{listen: "0.0.0.0:0"})
	// The warning names the port actually listened on, not the ":0" asked
	// for (with -q it is the only line that says where the server is).
	port := url[strings.LastIndex(url, ":")+1:]
	if out := stderr.String(); !strings.Contains(out, "warning: listening on 0.0.0.0:"+port+",") || !strings.Contains(out, "without TLS or authentication") {
		t.Errorf("no warning naming 0.0.0.0:%s for a public address:\n%s", port, out)
	}
}

func TestHostUsageErrors(t *testing.T) {
	db := hostTestRepo(t, "bad")
	worldReadable := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(worldReadable, []byte("a:b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyCfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(emptyCfg, []byte("color = \"never\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		g    Globals
		o    hostOptions
		want string
	}{
		"repo and profiles": {Globals{Repo: db}, hostOptions{profiles: []string{"x"}}, "exclude"},
		"cert without key":  {Globals{Repo: db}, hostOptions{tlsCert: "c.pem"}, "--tls-key"},
		"open auth file":    {Globals{Repo: db}, hostOptions{authFile: worldReadable}, "chmod 600"},
		"not a database":    {Globals{Repo: filepath.Join(t.TempDir(), "x.tar")}, hostOptions{}, "--repo"},
		"nothing to serve":  {Globals{ConfigFile: emptyCfg}, hostOptions{}, "nothing to serve"},
		"unknown profile":   {Globals{ConfigFile: emptyCfg}, hostOptions{profiles: []string{"nope"}}, "nope"},
		"listen no port":    {Globals{Repo: db}, hostOptions{listen: "localhost"}, `--listen "localhost": missing port in address (want HOST:PORT`},
		"listen bad port":   {Globals{Repo: db}, hostOptions{listen: "127.0.0.1:99999"}, `--listen "127.0.0.1:99999": invalid port`},
	} {
		g, o := c.g, c.o
		g.Stdout, g.Stderr = io.Discard, io.Discard
		if o.listen == "" {
			o.listen = "127.0.0.1:0"
		}
		o.writeIdleTimeout = time.Minute
		err := runHost(context.Background(), &g, &o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, c.want)
			continue
		}
		if code := exitCode(err); code != ExitUsage {
			t.Errorf("%s: exit code %d, want %d", name, code, ExitUsage)
		}
	}
}

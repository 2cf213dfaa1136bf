package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pacrepo/pacrepo/internal/config"
	"github.com/pacrepo/pacrepo/internal/server"
)

func init() { register(newHostCommand) }

// envHostAuth holds one "user:password" for --auth, so that the password
// never appears on a command line (and in ps).
const envHostAuth = "PACREPO_HOST_AUTH"

type hostOptions struct {
	listen           string
	list             bool
	pages            bool
	profiles         []string
	tlsCert, tlsKey  string
	authFile         string
	followLinks      bool
	metrics          bool
	accessLog        bool
	shutdownTimeout  time.Duration
	writeIdleTimeout time.Duration

	// ready, when set, is called with the address once the server listens
	// (for tests, which listen on port 0).
	ready func(addr string)
}

func newHostCommand(g *Globals) *cobra.Command {
	o := &hostOptions{}
	cmd := &cobra.Command{
		Use:     "host",
		Aliases: []string{"serve"},
		Short:   "Serve repositories to pacman over HTTP",
		Long: `Serve one or more repositories over HTTP (or HTTPS) for pacman. Each
repository is served under its own name, the NAME of NAME.db.tar.EXT:

  [NAME]
  Server = http://HOST:PORT/NAME

A repository served alone is also served at the root (Server =
http://HOST:PORT), as repoctl's host did.

Which repositories: --repo serves that one; -P PROFILE or --profiles A,B serve
those profiles of the configuration; with none of these, every profile of the
configuration is served.

Only what pacman downloads is served: the databases and their NAME.db and
NAME.files links, the package files and the signatures (under its own name, a
package file a profile's backup_dir received within the grace period, for
clients holding an older database). Never the backup directory itself, the
lock, the journal, temporary or partial files, dot-files, .old databases or
anything else; subdirectories are never served. A link is
served only when it leads, inside the directory, to a public file of its own
class (a package, a signature, a database); --follow-links also serves
registered packages and signatures that link outside (add --link), while the
target is the registered file (its size and SHA-256). Databases are
replaced by atomic rename and every file is opened once per request, so pacman
never sees a half-written database while pacrepo changes the repository.

Downloads can be resumed (Range), and the server answers If-Modified-Since and
If-None-Match (strong ETag from device, inode, size and modification time).
Databases and signatures are sent with Cache-Control: no-cache; packages may be
cached for a day.

The server listens on 127.0.0.1:8080 by default. For a private repository,
give users and passwords in a file of "user:password" lines that only its
owner can read (--auth-file, mode 0600), or one pair in $PACREPO_HOST_AUTH;
pacman then uses Server = http://USER:PASSWORD@HOST:PORT/NAME. Use TLS
(--tls-cert, --tls-key) whenever passwords cross a network.

/metrics answers in Prometheus' text format (behind the same authentication;
--metrics=false turns it off): each repository's packages and database age,
and the counters of the watch command (commits and their durations,
uploads, rejected files, lock waits).

Package pages (--pages, on by default) show each repository to people:
/NAME/packages/ lists and searches the packages, /NAME/packages/PKG shows one
(dependencies, required by, files, signature: verified with the profile's
keyring or --keyring), /NAME/feed.atom has the recent changes, and
/api/v1/NAME/packages[/PKG] answers the same in JSON. / lists the
repositories when several are served; one served alone also has its pages at
/packages/.

One access log line per request goes to standard error. SIGINT or SIGTERM
stops the server gracefully: running downloads get --shutdown-timeout to end.`,
		Example: `  pacrepo host --repo /srv/repo/myrepo.db.tar.zst
  pacrepo host --listen 0.0.0.0:8080 --profiles core,extra --list
  PACREPO_HOST_AUTH=builder:secret pacrepo host --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The command's context ends at SIGINT or SIGTERM: the server
			// then stops gracefully.
			return runHost(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on, HOST:PORT (loopback only unless you say otherwise)")
	f.BoolVar(&o.list, "list", false, "list the public files at /NAME/ and the repositories at /")
	f.BoolVar(&o.pages, "pages", true, "package pages at /NAME/packages/, their JSON API at /api/v1/NAME/packages and a feed at /NAME/feed.atom")
	f.StringSliceVar(&o.profiles, "profiles", nil, "serve these configuration profiles (comma-separated)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain)")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&o.authFile, "auth-file", "", `require HTTP basic authentication: file of "user:password" lines, mode 0600 (also $`+envHostAuth+`)`)
	f.BoolVar(&o.followLinks, "follow-links", false, "serve registered package and signature files that are symbolic links to outside the repository directory (as add --link makes), when the target is the registered file")
	f.BoolVar(&o.metrics, "metrics", true, "answer /metrics in Prometheus' text format: packages, database age, and the watch command's commits, rejections and lock waits")
	f.BoolVar(&o.accessLog, "access-log", true, "log one line per request to standard error")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "how long running downloads may go on after SIGINT or SIGTERM")
	f.DurationVar(&o.writeIdleTimeout, "write-timeout", server.DefaultWriteIdleTimeout, "drop a client that accepts no data for this long (a whole download has no time limit)")
	return cmd
}

func runHost(ctx context.Context, g *Globals, o *hostOptions) error {
	if err := checkListenAddress(o.listen); err != nil {
		return usage(err)
	}
	repos, err := hostRepositories(ctx, g, o)
	if err != nil {
		return err
	}
	creds, err := hostCredentials(o)
	if err != nil {
		return usage(err)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usage(errors.New("--tls-cert and --tls-key go together"))
	}
	if o.writeIdleTimeout <= 0 {
		return usage(errors.New("--write-timeout must be positive"))
	}

	logger := slog.New(slog.NewTextHandler(g.Stderr, nil))
	opts := server.Options{
		Repos:               repos,
		List:                o.list,
		Pages:               o.pages,
		FollowExternalLinks: o.followLinks,
		Metrics:             o.metrics,
		Auth:                creds,
		WriteIdleTimeout:    o.writeIdleTimeout,
	}
	if o.accessLog {
		opts.AccessLog = logger
	}
	h, err := server.NewHandler(opts)
	if err != nil {
		return err
	}
	srv, err := server.NewServer(h, server.ServerOptions{
		TLSCertFile:     o.tlsCert,
		TLSKeyFile:      o.tlsKey,
		ShutdownTimeout: o.shutdownTimeout,
		ErrorLog:        logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}

	if !server.IsLoopback(o.listen) && (!srv.TLS() || creds == nil) {
		var missing []string
		if !srv.TLS() {
			missing = append(missing, "TLS")
		}
		if creds == nil {
			missing = append(missing, "authentication")
		}
		// The host as given (Go reports 0.0.0.0 as [::]), the port as bound
		// (with -q this is the only line that says which port :0 got).
		host, _, _ := net.SplitHostPort(o.listen)
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		fmt.Fprintf(g.Stderr, "pacrepo: warning: listening on %s, which other machines can reach, without %s\n",
			net.JoinHostPort(host, port), strings.Join(missing, " or "))
	}
	if !g.output().Quiet {
		printServing(g.Stderr, ln.Addr().String(), srv.TLS(), repos)
	}
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	if !g.output().Quiet {
		fmt.Fprintln(g.Stderr, "pacrepo: server stopped")
	}
	return nil
}

// checkListenAddress refuses a --listen value that is not HOST:PORT before
// anything else happens, as a wrong argument (exit code 2); a port already
// in use is found only by listening and is a plain failure.
func checkListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		var aerr *net.AddrError
		if errors.As(err, &aerr) {
			err = errors.New(aerr.Err) // the address is named once, below
		}
		return fmt.Errorf("--listen %q: %v (want HOST:PORT, e.g. 127.0.0.1:8080, or :8080 for every interface)", addr, err)
	}
	return nil
}

func printServing(w io.Writer, addr string, tls bool, repos []server.Repository) {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "HOST" // every interface: the user knows the name to use
	}
	base := scheme + "://" + net.JoinHostPort(host, port)
	for _, r := range repos {
		from := r.Dir
		if r.Objects != nil {
			from = r.ObjectsURL
		}
		fmt.Fprintf(w, "pacrepo: serving %s from %s at %s/%s\n", r.Name, from, base, r.Name)
	}
}

// hostRepositories decides what to serve: --repo alone; else -P and/or
// --profiles; else every profile of the configuration.
func hostRepositories(ctx context.Context, g *Globals, o *hostOptions) ([]server.Repository, error) {
	if g.Repo != "" {
		if len(o.profiles) > 0 {
			return nil, usage(errors.New("--repo and --profiles exclude each other"))
		}
		if config.IsObjectStorage(g.Repo) {
			sel, err := g.currentProfile(nil)
			if err != nil {
				return nil, err
			}
			r, err := g.objectHostRepository(ctx, sel.Profile)
			if err != nil {
				return nil, err
			}
			if r.Keyring, err = g.keyring(sel.Profile); err != nil {
				return nil, err
			}
			return []server.Repository{r}, nil
		}
		r, err := server.RepositoryAt(g.Repo)
		if err != nil {
			return nil, usage(fmt.Errorf("--repo: %w", err))
		}
		// No profile: only --keyring verifies the pages' signatures.
		if r.Keyring, err = g.keyring(&config.Profile{}); err != nil {
			return nil, err
		}
		return []server.Repository{r}, nil
	}
	c, warnings, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	g.printConfigWarnings(warnings)

	names := o.profiles
	if g.Profile != "" {
		names = append([]string{g.Profile}, names...)
	}
	if len(names) == 0 {
		names = c.ProfileNames()
		if len(names) == 0 {
			return nil, usage(errors.New("nothing to serve: give --repo PATH/NAME.db.tar.EXT, or configure profiles (pacrepo conf new)"))
		}
	}
	var repos []server.Repository
	seen := map[string]bool{}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		_, p, err := c.Select(name)
		if err != nil {
			return nil, usage(fmt.Errorf("profile %s: %w", name, err))
		}
		if p.Repo == "" {
			return nil, usage(fmt.Errorf("profile %s has no repo", name))
		}
		if err := config.CheckDBName(p.Repo); err != nil {
			return nil, usage(fmt.Errorf("profile %s: %w", name, err))
		}
		if config.IsObjectStorage(p.Repo) {
			cp := *p
			g.applyFlagOverrides(&cp)
			r, err := g.objectHostRepository(ctx, &cp)
			if err != nil {
				return nil, fmt.Errorf("profile %s: %w", name, err)
			}
			if r.Keyring, err = g.keyring(&cp); err != nil {
				return nil, fmt.Errorf("profile %s: %w", name, err)
			}
			repos = append(repos, r)
			continue
		}
		r, err := server.RepositoryAt(filepath.Clean(p.Repo))
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		if r.Keyring, err = g.keyring(p); err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		// Files retired to the backup directory are served for the grace
		// period, as files kept in place are.
		r.Retired, r.Grace = p.ResolvedBackupDir(r.Dir), p.Grace.Duration
		repos = append(repos, r)
	}
	return repos, nil
}

// hostCredentials reads --auth-file and $PACREPO_HOST_AUTH; nil means no
// authentication.
func hostCredentials(o *hostOptions) (*server.Credentials, error) {
	creds := server.NewCredentials()
	if o.authFile != "" {
		if err := server.LoadCredentialsFile(o.authFile, creds); err != nil {
			return nil, err
		}
		if creds.Len() == 0 {
			return nil, fmt.Errorf("--auth-file %s holds no user", o.authFile)
		}
	}
	if v := os.Getenv(envHostAuth); v != "" {
		user, password, err := server.ParseCredential(v)
		if err == nil {
			err = creds.Add(user, password)
		}
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", envHostAuth, err)
		}
	}
	if creds.Len() == 0 {
		return nil, nil
	}
	return creds, nil
}

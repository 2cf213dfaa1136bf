package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Timeouts of the HTTP server against slow or idle clients. There is no
// WriteTimeout: it would bound a whole response and cut big package
// downloads on slow links. Writes are bounded per chunk instead (see
// Options.WriteIdleTimeout).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second // requests have no body: this is header time plus slack
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10

	DefaultShutdownTimeout = 10 * time.Second
)

// ServerOptions configure the HTTP server around the handler.
type ServerOptions struct {
	// TLSCertFile and TLSKeyFile turn on HTTPS when both are set.
	TLSCertFile, TLSKeyFile string
	// ShutdownTimeout is how long in-flight requests may finish after the
	// context is cancelled; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ErrorLog receives the server's own errors (TLS handshakes, broken
	// connections); nil discards them.
	ErrorLog *slog.Logger
}

// Server is the HTTP(S) server of `pacrepo host`.
type Server struct {
	srv             *http.Server
	tls             bool
	shutdownTimeout time.Duration
}

// NewServer prepares a server for h. The TLS key pair is loaded here so
// that a bad certificate is reported before anything listens.
func NewServer(h http.Handler, opts ServerOptions) (*Server, error) {
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    MaxHeaderBytes,
		},
		shutdownTimeout: opts.ShutdownTimeout,
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}
	if opts.ErrorLog != nil {
		s.srv.ErrorLog = slog.NewLogLogger(opts.ErrorLog.Handler(), slog.LevelWarn)
	} else {
		s.srv.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn)
	}
	switch {
	case opts.TLSCertFile != "" && opts.TLSKeyFile != "":
		cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS key pair: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		}
		s.tls = true
	case opts.TLSCertFile != "" || opts.TLSKeyFile != "":
		return nil, errors.New("TLS needs both a certificate and a key")
	}
	return s, nil
}

// TLS reports whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.tls }

// Serve serves on ln until ctx is done, then stops accepting connections
// and lets in-flight requests finish for up to the shutdown timeout. It
// returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() {
		if s.tls {
			// Certificates are in TLSConfig; ServeTLS also turns on HTTP/2.
			errc <- s.srv.ServeTLS(ln, "", "")
		} else {
			errc <- s.srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		// Requests still running after the timeout are cut.
		_ = s.srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// IsLoopback reports whether a listen address (host:port) only accepts
// connections from this machine. An empty host means all interfaces.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

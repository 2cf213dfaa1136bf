package aur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// MaxURILength is the longest request URI the official AUR accepts: its
// nginx front end runs HTTP/2 with the default field size, which limits a
// URI to 4443 bytes (Arch wiki, "Aurweb RPC interface", Limitations; found
// empirically by pacaur's author as the point where requests fail). Info
// requests are split so that no URL exceeds it.
const MaxURILength = 4443

// RetryPolicy bounds how a Client retries HTTP 429, 5xx and network
// failures: exponential backoff with jitter, Retry-After honoured, and a
// limit on both attempts and total time.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, first one included
	BaseDelay   time.Duration // delay before the second attempt (before jitter)
	MaxDelay    time.Duration // cap on one computed delay
	MaxTotal    time.Duration // no retry starts after this much time since the first attempt
}

// DefaultRetryPolicy is used by New.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts: 4,
	BaseDelay:   500 * time.Millisecond,
	MaxDelay:    8 * time.Second,
	MaxTotal:    30 * time.Second,
}

// Client talks to one aurweb instance. Its zero value is not usable; use New.
type Client struct {
	BaseURL      string       // without trailing slash, e.g. https://aur.archlinux.org
	HTTP         *http.Client // carries the per-request timeout
	UserAgent    string
	MaxURILength int
	Retry        RetryPolicy

	// sleep waits between retries; tests replace it to run instantly.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client of the AUR at baseURL (its default is the
// configuration's) with a 30 s request timeout and DefaultRetryPolicy.
func New(baseURL string) *Client {
	return &Client{
		BaseURL:      strings.TrimRight(baseURL, "/"),
		HTTP:         &http.Client{Timeout: 30 * time.Second},
		UserAgent:    "pacrepo/" + moduleVersion(),
		MaxURILength: MaxURILength,
		Retry:        DefaultRetryPolicy,
		sleep:        sleepContext,
	}
}

func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RPCError is an RPC reply of type "error", such as "Too many package
// results." or "Query arg too small.".
type RPCError struct {
	URL     string
	Message string
}

func (e *RPCError) Error() string { return fmt.Sprintf("AUR: %s", e.Message) }

// HTTPError is an unexpected HTTP status, after retries when it was one
// worth retrying.
type HTTPError struct {
	URL        string
	StatusCode int
	Attempts   int
	Message    string // the "error" of a JSON body, or a short body excerpt
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("AUR request %s: HTTP %d %s", redactURL(e.URL), e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (gave up after %d attempts)", e.Attempts)
	}
	if e.StatusCode == http.StatusTooManyRequests {
		msg += "; the AUR limits requests per IP address, try again later"
	}
	return msg
}

// IsRateLimited reports whether err is the AUR refusing because of its
// rate limit.
func IsRateLimited(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode == http.StatusTooManyRequests
}

// UnreachableError is the AUR not answering at all, after retries: a
// connection refused, a name that does not resolve, a timeout. Err is the
// network's reason alone: net/http's own error would repeat the URL.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("AUR request %s: %v", redactURL(e.URL), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err is the AUR out of reach or not serving
// for now (unreachable, rate limited, a server error, after retries):
// asking again later may succeed, and what is known locally still holds.
func IsUnavailable(err error) bool {
	var unreachable *UnreachableError
	var he *HTTPError
	return errors.As(err, &unreachable) || errors.As(err, &he) && retryable(he.StatusCode)
}

// redactURL shortens long info URLs in messages.
func redactURL(u string) string {
	if len(u) > 120 {
		return u[:100] + "...(" + strconv.Itoa(len(u)) + " bytes)"
	}
	return u
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status <= 599
}

// get performs a GET with retries and returns the response of the first
// attempt that is not retried (any status). The caller closes the body.
func (c *Client) get(ctx context.Context, u string, header http.Header) (*http.Response, error) {
	start := time.Now()
	policy := c.Retry
	if policy.MaxAttempts < 1 {
		policy.MaxAttempts = 1
	}
	sleep := c.sleep
	if sleep == nil {
		sleep = sleepContext
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("AUR request %s: %w", redactURL(u), err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", c.UserAgent)
		resp, err := c.HTTP.Do(req)
		var retryAfter time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("AUR request %s: %w", redactURL(u), ctx.Err())
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			lastErr = &UnreachableError{URL: u, Err: err}
		case retryable(resp.StatusCode):
			lastErr = httpError(resp, u, attempt)
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		default:
			return resp, nil
		}
		if attempt >= policy.MaxAttempts {
			return nil, lastErr
		}
		delay := backoff(policy, attempt)
		if retryAfter > delay {
			delay = retryAfter
		}
		if policy.MaxTotal > 0 && time.Since(start)+delay > policy.MaxTotal {
			if retryAfter > 0 {
				return nil, fmt.Errorf("%w (the AUR asks to wait %s, more than the retry budget of %s)", lastErr, retryAfter.Round(time.Second), policy.MaxTotal)
			}
			return nil, lastErr
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("%w (while waiting to retry: %w)", lastErr, err)
		}
	}
}

// httpError reads (a bounded part of) resp's body into an HTTPError and
// closes it.
func httpError(resp *http.Response, u string, attempt int) *HTTPError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	he := &HTTPError{URL: u, StatusCode: resp.StatusCode, Attempts: attempt}
	var env struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != "" {
		he.Message = env.Error
	} else if strings.Contains(resp.Header.Get("Content-Type"), "text/plain") {
		he.Message = strings.TrimSpace(string(body))
		if len(he.Message) > 200 {
			he.Message = he.Message[:200]
		}
	}
	return he
}

// backoff is the exponential delay before attempt+1 with "equal jitter":
// a random value in [d/2, d], so that parallel clients spread out.
func backoff(p RetryPolicy, attempt int) time.Duration {
	d := p.BaseDelay << (attempt - 1)
	if d <= 0 || (p.MaxDelay > 0 && d > p.MaxDelay) {
		d = p.MaxDelay
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// envelope is every RPC v5 reply.
type envelope struct {
	Version     int       `json:"version"`
	Type        string    `json:"type"`
	ResultCount int       `json:"resultcount"`
	Results     []Package `json:"results"`
	Error       string    `json:"error"`
}

// maxReplyBytes bounds one RPC reply; the largest legitimate replies
// (5,000 search results, 250 info results) are a few megabytes.
const maxReplyBytes = 64 << 20

// rpc fetches u and decodes the envelope.
func (c *Client) rpc(ctx context.Context, u string) ([]Package, error) {
	resp, err := c.get(ctx, u, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		he := httpError(resp, u, 1)
		if he.Message != "" && resp.StatusCode == http.StatusBadRequest {
			return nil, &RPCError{URL: u, Message: he.Message}
		}
		return nil, he
	}
	return decodeReply(io.LimitReader(resp.Body, maxReplyBytes), u)
}

// decodeReply decodes an RPC reply to u (for messages), turning type
// "error" into *RPCError.
func decodeReply(r io.Reader, u string) ([]Package, error) {
	var env envelope
	dec := json.NewDecoder(r)
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("AUR request %s: decode reply: %w", redactURL(u), err)
	}
	if env.Type == "error" || env.Error != "" {
		msg := env.Error
		if msg == "" {
			msg = "unknown error"
		}
		return nil, &RPCError{URL: u, Message: msg}
	}
	if env.Version != 5 {
		return nil, fmt.Errorf("AUR request %s: reply has RPC version %d, want 5", redactURL(u), env.Version)
	}
	return env.Results, nil
}

// SearchBy is the field a search matches.
type SearchBy string

// The fields aurweb's RPC v5 can search by.
const (
	ByName          SearchBy = "name"
	ByNameDesc      SearchBy = "name-desc"
	ByMaintainer    SearchBy = "maintainer"
	ByDepends       SearchBy = "depends"
	ByMakeDepends   SearchBy = "makedepends"
	ByOptDepends    SearchBy = "optdepends"
	ByCheckDepends  SearchBy = "checkdepends"
	ByProvides      SearchBy = "provides"
	ByConflicts     SearchBy = "conflicts"
	ByReplaces      SearchBy = "replaces"
	ByGroups        SearchBy = "groups"
	ByKeywords      SearchBy = "keywords"
	ByCoMaintainers SearchBy = "comaintainers"
	BySubmitter     SearchBy = "submitter"
)

// SearchFields lists every valid SearchBy, in the order help texts show them.
var SearchFields = []SearchBy{ByName, ByNameDesc, ByMaintainer, ByDepends, ByMakeDepends,
	ByOptDepends, ByCheckDepends, ByProvides, ByConflicts, ByReplaces, ByGroups,
	ByKeywords, ByCoMaintainers, BySubmitter}

// ParseSearchBy validates a --by value.
func ParseSearchBy(s string) (SearchBy, error) {
	for _, f := range SearchFields {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(SearchFields))
	for i, f := range SearchFields {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown search field %q (want one of %s)", s, strings.Join(names, ", "))
}

// ErrQueryTooShort is returned without asking the AUR, which refuses
// search arguments shorter than two characters (except by maintainer).
var ErrQueryTooShort = errors.New("AUR search argument must be at least 2 characters")

// Search asks the AUR for packages whose field by matches arg.
func (c *Client) Search(ctx context.Context, by SearchBy, arg string) ([]Package, error) {
	if by == "" {
		by = ByName
	}
	if by != ByMaintainer && len(arg) < 2 {
		return nil, fmt.Errorf("search %q: %w", arg, ErrQueryTooShort)
	}
	u := c.BaseURL + "/rpc/v5/search/" + url.PathEscape(arg) + "?by=" + url.QueryEscape(string(by))
	return c.rpc(ctx, u)
}

// Snapshot opens the snapshot tarball of pkgbase
// (/cgit/aur.git/snapshot/PKGBASE.tar.gz). The caller closes it.
func (c *Client) Snapshot(ctx context.Context, pkgbase string) (io.ReadCloser, error) {
	u := c.BaseURL + "/cgit/aur.git/snapshot/" + url.PathEscape(pkgbase) + ".tar.gz"
	resp, err := c.get(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpError(resp, u, 1)
	}
	return resp.Body, nil
}

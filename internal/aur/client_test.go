package aur

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pacrepo/pacrepo/internal/aur/aurtest"
)

// testClient returns a client of s whose retry waits are recorded instead
// of slept, so that retry tests are instant.
func testClient(s *aurtest.Server) (*Client, *[]time.Duration) {
	c := New(s.URL)
	var mu sync.Mutex
	var slept []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, &slept
}

func TestInfoRecordedShapes(t *testing.T) {
	s := aurtest.New(t)
	s.LoadRecorded("info-yay.json", "info-split-outofdate-orphan.json")
	c, _ := testClient(s)
	m, err := c.InfoMap(context.Background(), []string{"yay", "yay-bin", "pyqt5-sip-legacy", "python-pyqt5-sip-legacy", "jq-git", "no-such-package"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 5 {
		t.Fatalf("got %d results, want 5: %v", len(m), m)
	}
	yay := m["yay"]
	if yay.Version != "12.4.2-1" || yay.Maintainer != "jguer" || yay.Submitter != "jguer" || yay.OutOfDate != nil ||
		strings.Join(yay.Depends, ",") != "pacman>6.1,git" || yay.MakeDepends[0] != "go>=1.21" || yay.PackageBaseID != 115973 {
		t.Errorf("yay decoded wrong: %+v", yay)
	}
	orphan := m["pyqt5-sip-legacy"]
	if orphan.Maintainer != "" || orphan.OutOfDate == nil || *orphan.OutOfDate != 1672531200 || !orphan.IsOutOfDate() || orphan.URL != "" {
		t.Errorf("orphan decoded wrong: %+v", orphan)
	}
	if m["python-pyqt5-sip-legacy"].Base() != "pyqt5-sip-legacy-split" || m["python-pyqt5-sip-legacy"].Description != "" {
		t.Errorf("split package decoded wrong: %+v", m["python-pyqt5-sip-legacy"])
	}
	if jq := m["jq-git"]; jq.Provides[0] != "jq=1.7.1" || jq.Groups[0] != "devel" || jq.Replaces[0] != "jq-dev" {
		t.Errorf("jq-git decoded wrong: %+v", jq)
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if !strings.HasPrefix(reqs[0].UserAgent, "pacrepo/") {
		t.Errorf("User-Agent %q", reqs[0].UserAgent)
	}
}

func TestNoRequestWhenNothingToAsk(t *testing.T) {
	s := aurtest.New(t)
	c, _ := testClient(s)
	pkgs, err := c.Info(context.Background(), nil)
	if err != nil || len(pkgs) != 0 {
		t.Fatalf("Info(nil) = %v, %v", pkgs, err)
	}
	if _, err := c.Info(context.Background(), []string{"", ""}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests for nothing", n)
	}
	if _, err := c.Search(context.Background(), ByName, "a"); !errors.Is(err, ErrQueryTooShort) {
		t.Fatalf("one-letter search: %v", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("%d requests for a too short search", n)
	}
}

func TestInfoBatchesByURLLength(t *testing.T) {
	s := aurtest.New(t)
	var names []string
	var pkgs []aurtest.Pkg
	for i := range 1200 {
		// Names of varying length, some with characters that need escaping.
		n := fmt.Sprintf("pkg-%04d-%s", i, strings.Repeat("x", i%23))
		if i%50 == 0 {
			n = fmt.Sprintf("libc++-%d", i)
		}
		names = append(names, n)
		if i%3 == 0 {
			pkgs = append(pkgs, aurtest.Pkg{Name: n, Version: "1.0-1"})
		}
	}
	s.Add(pkgs...)
	c, _ := testClient(s)
	got, err := c.InfoMap(context.Background(), append(names, names[:100]...)) // duplicates are asked once
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pkgs) {
		t.Fatalf("got %d packages, want %d", len(got), len(pkgs))
	}
	if _, ok := got["libc++-0"]; !ok {
		t.Error("libc++-0 (needs escaping) not found")
	}
	reqs := s.Requests()
	total := 0
	for _, r := range reqs {
		if len(r.URI) > MaxURILength {
			t.Errorf("request URI of %d bytes exceeds %d", len(r.URI), MaxURILength)
		}
		total += strings.Count(r.URI, "arg[]=")
	}
	if total != len(names) {
		t.Errorf("asked %d names in total, want %d (each once)", total, len(names))
	}
	// 1200 names of ~20 bytes need about 1200*28/4400 ≈ 8 requests: not
	// one per name, nor a fixed small count per request.
	if len(reqs) < 5 || len(reqs) > 12 {
		t.Errorf("%d requests for %d names", len(reqs), len(names))
	}
	t.Logf("%d names in %d requests", len(names), len(reqs))
}

func TestInfoNameTooLong(t *testing.T) {
	s := aurtest.New(t)
	c, _ := testClient(s)
	_, err := c.Info(context.Background(), []string{strings.Repeat("a", 5000)})
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("err = %v", err)
	}
}

func TestRPCErrorReply(t *testing.T) {
	s := aurtest.New(t)
	s.MaxResults = 2
	s.Add(aurtest.Pkg{Name: "aa-one", Version: "1-1"}, aurtest.Pkg{Name: "aa-two", Version: "1-1"}, aurtest.Pkg{Name: "aa-three", Version: "1-1"})
	c, _ := testClient(s)
	_, err := c.Search(context.Background(), ByName, "aa")
	var re *RPCError
	if !errors.As(err, &re) || re.Message != "Too many package results." {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.Search(context.Background(), SearchBy("bogus"), "aa"); !errors.As(err, &re) || re.Message != "Incorrect by field specified." {
		t.Fatalf("bogus by: %v", err)
	}
}

func TestRecordedErrorEnvelope(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"error-too-many.json", "Too many package results."},
		{"search-empty.json", ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(aurtest.RecordedReply(tc.file))
		}))
		c := New(srv.URL)
		pkgs, err := c.Search(context.Background(), ByName, "something")
		srv.Close()
		if tc.want == "" {
			if err != nil || len(pkgs) != 0 {
				t.Errorf("%s: %v, %v", tc.file, pkgs, err)
			}
			continue
		}
		var re *RPCError
		if !errors.As(err, &re) || re.Message != tc.want {
			t.Errorf("%s: err = %v", tc.file, err)
		}
	}
}

func TestRetry429HonoursRetryAfter(t *testing.T) {
	s := aurtest.New(t)
	s.Add(aurtest.Pkg{Name: "foo", Version: "1-1"})
	s.Fail(aurtest.Fault{Status: 429, RetryAfter: "3"}, aurtest.Fault{Status: 503, RetryAfter: "1"})
	c, slept := testClient(s)
	m, err := c.InfoMap(context.Background(), []string{"foo"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["foo"]; !ok {
		t.Fatal("foo missing after retries")
	}
	if len(*slept) != 2 || (*slept)[0] < 3*time.Second || (*slept)[1] < time.Second {
		t.Fatalf("waits %v, want Retry-After honoured (>=3s, >=1s)", *slept)
	}
	if n := len(s.Requests()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	s := aurtest.New(t)
	for range 10 {
		s.Fail(aurtest.Fault{Status: 503})
	}
	c, slept := testClient(s)
	_, err := c.Info(context.Background(), []string{"foo"})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 503 || he.Attempts != c.Retry.MaxAttempts {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Errorf("message not clear: %v", err)
	}
	if n := len(s.Requests()); n != c.Retry.MaxAttempts {
		t.Errorf("%d requests, want %d", n, c.Retry.MaxAttempts)
	}
	// Exponential with jitter: each wait within [base*2^k/2, base*2^k].
	for k, d := range *slept {
		hi := c.Retry.BaseDelay << k
		if d < hi/2 || d > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", k, d, hi/2, hi)
		}
	}
}

func TestRateLimitBeyondBudgetFailsAtOnce(t *testing.T) {
	s := aurtest.New(t)
	s.Fail(aurtest.Fault{Status: 429, RetryAfter: "3600"})
	c, slept := testClient(s)
	_, err := c.Info(context.Background(), []string{"foo"})
	if !IsRateLimited(err) {
		t.Fatalf("err = %v", err)
	}
	if len(*slept) != 0 || len(s.Requests()) != 1 {
		t.Fatalf("waited %v after %d requests; want an immediate failure", *slept, len(s.Requests()))
	}
	for _, want := range []string{"HTTP 429", "Rate limit reached", "try again later", "wait 1h0m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

// An AUR that cannot be reached (connection refused, a timeout) is an
// UnreachableError that names the URL once, and IsUnavailable says that
// asking later may work.
func TestUnreachableNamesURLOnce(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	refusing := s.URL
	s.Close()
	c := New(refusing)
	c.sleep = func(ctx context.Context, d time.Duration) error { return nil }
	_, err := c.Info(context.Background(), []string{"foo"})
	var unreachable *UnreachableError
	if !errors.As(err, &unreachable) || !IsUnavailable(err) {
		t.Fatalf("err = %v (%T), want an UnreachableError", err, err)
	}
	if n := strings.Count(err.Error(), refusing); n != 1 || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("message %q: want the URL once and the reason", err)
	}

	hanging := aurtest.New(t)
	hanging.SetHang(true)
	c, _ = testClient(hanging)
	c.HTTP.Timeout = 50 * time.Millisecond
	c.Retry.MaxAttempts = 1
	if _, err := c.Info(context.Background(), []string{"foo"}); !IsUnavailable(err) {
		t.Errorf("timeout: err = %v, want unavailable", err)
	}
	if IsUnavailable(&RPCError{Message: "Query arg too small."}) {
		t.Error("an RPC error reply is not unavailability")
	}
}

func TestSlowServerTimeoutAndCancel(t *testing.T) {
	s := aurtest.New(t)
	s.SetHang(true)
	c, _ := testClient(s)
	c.HTTP.Timeout = 50 * time.Millisecond
	c.Retry.MaxAttempts = 2
	if _, err := c.Info(context.Background(), []string{"foo"}); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("timeout: err = %v", err)
	}

	c.HTTP.Timeout = 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Search(ctx, ByName, "foo")
		done <- err
	}()
	for s.CountRequests("/rpc/v5/search") == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: err = %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"-1":                            0,
		"junk":                          0,
		"Mon, 01 Jan 2024 00:00:10 GMT": 10 * time.Second,
		"Sun, 31 Dec 2023 00:00:10 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSearchWords(t *testing.T) {
	s := aurtest.New(t)
	s.Add(
		aurtest.Pkg{Name: "python-foo-bar", Version: "1-1", NumVotes: 5, Popularity: 0.5},
		aurtest.Pkg{Name: "python-foo", Version: "1-1", Description: "bar tool", NumVotes: 9, Popularity: 0.1},
		aurtest.Pkg{Name: "foo-bar", Version: "1-1", Depends: []string{"python>=3", "zlib"}, NumVotes: 1},
		aurtest.Pkg{Name: "other", Version: "1-1", Depends: []string{"python"}, MakeDepends: []string{"zlib"}},
	)
	c, _ := testClient(s)
	ctx := context.Background()
	names := func(p []Package) string {
		var n []string
		for _, x := range p {
			n = append(n, x.Name)
		}
		return strings.Join(n, " ")
	}
	got, err := c.SearchWords(ctx, ByName, []string{"bar", "python"})
	if err != nil {
		t.Fatal(err)
	}
	if names(got) != "python-foo-bar" {
		t.Errorf("by name: %q", names(got))
	}
	if q := s.Requests()[0].URI; !strings.Contains(q, "/search/python?by=name") {
		t.Errorf("the longest word was not the one asked: %s", q)
	}
	got, _ = c.SearchWords(ctx, ByNameDesc, []string{"python", "bar"})
	Sort(got, SortVotes)
	if names(got) != "python-foo python-foo-bar" {
		t.Errorf("by name-desc sorted by votes: %q", names(got))
	}
	got, _ = c.SearchWords(ctx, ByDepends, []string{"python", "zlib"})
	if names(got) != "foo-bar" {
		t.Errorf("by depends: %q", names(got))
	}
}

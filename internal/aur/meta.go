package aur

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// MetaThreshold is the number of names above which Lookup in LookupAuto
// mode reads the metadata dump instead of asking the RPC. At ~200 names
// per info request (the URI limit), 1,000 names cost 5+ requests, each a
// few hundred kilobytes of JSON and each counted against the AUR's rate
// limit (4,000 requests a day per IP). The dump is one conditional request
// that usually ends in "304 Not Modified" once cached, and even when it
// must be downloaded (~10 MB) it costs the AUR less than dozens of RPC
// queries a build farm would repeat. Below the threshold the RPC is
// cheaper than a first download of the dump.
const MetaThreshold = 1000

// MetaPath is the metadata dump: every AUR package with its dependencies,
// a gzip'd JSON array of info-shaped objects.
const MetaPath = "/packages-meta-ext-v1.json.gz"

const metaFile = "packages-meta-ext-v1.json.gz"

// DefaultCacheDir returns $XDG_CACHE_HOME/pacrepo (or the platform's
// user cache directory).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "pacrepo"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: %w", err)
	}
	return filepath.Join(d, "pacrepo"), nil
}

type metaValidators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	URL          string `json:"url"`
}

// FetchMeta makes sure cacheDir holds a current copy of the metadata dump
// and returns its path. A cached copy is revalidated with If-None-Match /
// If-Modified-Since, and reused when the AUR answers 304. A new copy is
// written to a temporary file and renamed, so readers never see half of one.
func (c *Client) FetchMeta(ctx context.Context, cacheDir string) (string, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	dump := filepath.Join(cacheDir, metaFile)
	sidecar := dump + ".validators.json"
	u := c.BaseURL + MetaPath

	var val metaValidators
	header := http.Header{}
	if _, err := os.Stat(dump); err == nil {
		if b, err := os.ReadFile(sidecar); err == nil && json.Unmarshal(b, &val) == nil && val.URL == u {
			if val.ETag != "" {
				header.Set("If-None-Match", val.ETag)
			}
			if val.LastModified != "" {
				header.Set("If-Modified-Since", val.LastModified)
			}
		}
	}
	resp, err := c.get(ctx, u, header)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		if len(header) == 0 {
			return "", fmt.Errorf("AUR request %s: 304 Not Modified to an unconditional request", u)
		}
		return dump, nil
	case http.StatusOK:
	default:
		return "", httpError(resp, u, 1)
	}
	tmp, err := os.CreateTemp(cacheDir, "."+metaFile+"-*.part")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return "", fmt.Errorf("download %s: %w", u, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	os.Remove(sidecar) // never pair new validators with an old file, or the reverse
	if err := os.Rename(tmp.Name(), dump); err != nil {
		return "", err
	}
	val = metaValidators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), URL: u}
	if b, err := json.Marshal(val); err == nil {
		_ = os.WriteFile(sidecar, b, 0o644) // without it the next run downloads again: harmless
	}
	return dump, nil
}

// ReadMeta decodes a metadata dump (gzip'd or plain JSON array) one object
// at a time, calling fn for each, without holding the file in memory.
func ReadMeta(r io.Reader, fn func(*Package) error) error {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("metadata dump: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("metadata dump: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("metadata dump: starts with %v, want a JSON array", tok)
	}
	n := 0
	for dec.More() {
		var p Package
		if err := dec.Decode(&p); err != nil {
			return fmt.Errorf("metadata dump: object %d: %w", n, err)
		}
		n++
		if err := fn(&p); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("metadata dump: after object %d: %w", n, err)
	}
	return nil
}

// MetaLookup returns the packages named in the (revalidated) dump.
func (c *Client) MetaLookup(ctx context.Context, cacheDir string, names []string) (map[string]Package, error) {
	dump, err := c.FetchMeta(ctx, cacheDir)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	f, err := os.Open(dump)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]Package, len(names))
	err = ReadMeta(f, func(p *Package) error {
		if want[p.Name] {
			out[p.Name] = *p
		}
		return nil
	})
	if err != nil {
		// A corrupt cached copy must not stick: the next run downloads again.
		os.Remove(dump + ".validators.json")
		return nil, fmt.Errorf("%s: %w", dump, err)
	}
	return out, nil
}

// LookupMode chooses where Lookup gets package information.
type LookupMode int

// Lookup modes.
const (
	LookupAuto LookupMode = iota // RPC up to MetaThreshold names, the dump above
	LookupRPC                    // always batched info requests
	LookupDump                   // always the metadata dump
)

// ParseLookupMode reads a --aur-source value: auto, rpc or dump.
func ParseLookupMode(s string) (LookupMode, error) {
	switch s {
	case "", "auto":
		return LookupAuto, nil
	case "rpc":
		return LookupRPC, nil
	case "dump":
		return LookupDump, nil
	}
	return 0, fmt.Errorf("unknown AUR source %q (want auto, rpc or dump)", s)
}

// Lookup returns the AUR's information about names keyed by name, from
// the RPC or the metadata dump according to mode. cacheDir "" means
// DefaultCacheDir. It makes no request when names is empty.
func (c *Client) Lookup(ctx context.Context, names []string, mode LookupMode, cacheDir string) (map[string]Package, error) {
	if len(names) == 0 {
		return map[string]Package{}, nil
	}
	if mode == LookupRPC || mode == LookupAuto && len(names) <= MetaThreshold {
		return c.InfoMap(ctx, names)
	}
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	return c.MetaLookup(ctx, cacheDir, names)
}

package aur

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// infoURLs splits names into /rpc/v5/info?arg[]=... URLs, each at most
// limit bytes long (the whole URL, which is longer than the request URI
// the server measures, so the check errs on the safe side). Names are
// deduplicated and sorted so that the requests are reproducible.
func infoURLs(base string, names []string, limit int) ([]string, error) {
	uniq := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		uniq = append(uniq, n)
	}
	sort.Strings(uniq)

	prefix := base + "/rpc/v5/info?"
	var urls []string
	var b strings.Builder
	for _, n := range uniq {
		// aurweb reads "arg[]" literally (it unquotes the query before
		// splitting it), and unquote leaves '+' alone, so every byte
		// outside the unreserved set is percent-encoded.
		arg := "arg[]=" + url.QueryEscape(n)
		if len(prefix)+len(arg) > limit {
			return nil, fmt.Errorf("package name %.40q... is too long for one AUR request (%d bytes, limit %d)", n, len(prefix)+len(arg), limit)
		}
		sep := "&"
		if b.Len() == 0 {
			sep = ""
		}
		if b.Len() > 0 && len(prefix)+b.Len()+len(sep)+len(arg) > limit {
			urls = append(urls, prefix+b.String())
			b.Reset()
			sep = ""
		}
		b.WriteString(sep)
		b.WriteString(arg)
	}
	if b.Len() > 0 {
		urls = append(urls, prefix+b.String())
	}
	return urls, nil
}

// Info returns the AUR's information about names, asking in as few
// requests as the URI length limit allows and asking nothing when names is
// empty. Names the AUR does not know are simply absent from the result;
// the order of the result is the AUR's.
func (c *Client) Info(ctx context.Context, names []string) ([]Package, error) {
	limit := c.MaxURILength
	if limit <= 0 {
		limit = MaxURILength
	}
	urls, err := infoURLs(c.BaseURL, names, limit)
	if err != nil {
		return nil, err
	}
	var all []Package
	for _, u := range urls {
		pkgs, err := c.rpc(ctx, u)
		if err != nil {
			return nil, err
		}
		all = append(all, pkgs...)
	}
	return all, nil
}

// InfoMap is Info keyed by package name.
func (c *Client) InfoMap(ctx context.Context, names []string) (map[string]Package, error) {
	pkgs, err := c.Info(ctx, names)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Package, len(pkgs))
	for _, p := range pkgs {
		m[p.Name] = p
	}
	return m, nil
}

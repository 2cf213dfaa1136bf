package server

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// feedEntries is how many changes the feed carries.
const feedEntries = 50

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	Title   string   `xml:"title"`
	ID      string   `xml:"id"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Summary string   `xml:"summary"`
}

// serveFeed answers R/feed.atom: the recent changes of the repository
// (see feed.go for what it can know of them).
func (h *handler) serveFeed(w http.ResponseWriter, r *http.Request, repo Repository) {
	c, ok := h.pageCatalog(w, r, repo)
	if !ok {
		return
	}
	var changes []change
	c = h.withChanges(r.Context(), repo, c, func(src changeSource, _ bool) { changes = src.recent(c, feedEntries) })
	// The feed's own directory: /R/ or, for a repository served alone, /.
	dir := strings.TrimSuffix(r.URL.EscapedPath(), "feed.atom")
	base := absoluteBase(r) + dir
	feed := atomFeed{
		Title:   repo.Name + ": recent changes",
		ID:      base + "feed.atom",
		Updated: c.modified.UTC().Format(time.RFC3339),
		Links:   []atomLink{{Rel: "self", Href: base + "feed.atom"}, {Rel: "alternate", Href: base + "packages/"}},
		Author:  atomAuthor{Name: "pacrepo host"},
	}
	for _, ch := range changes {
		page := base + "packages/" + url.PathEscape(ch.Name)
		title := ch.Name + " " + ch.Version + " " + ch.Kind
		summary := ch.Name + " " + ch.Version + " " + ch.Kind + " " + ch.When.UTC().Format("2006-01-02 15:04 UTC")
		switch ch.Kind {
		case changeUpgraded, changeDowngraded:
			title = ch.Name + " " + ch.Kind + " to " + ch.Version
			summary = ch.Name + " " + ch.Kind + " from " + ch.Previous + " to " + ch.Version
		case changeRolledBack:
			title = ch.Name + " " + ch.Kind + " to " + ch.Version
			summary = title
			if ch.Previous != "" {
				summary += " from " + ch.Previous
			}
		case changeBuilt:
			summary = ch.Name + " " + ch.Version + " was built " + ch.When.UTC().Format("2006-01-02 15:04 UTC") + " (when it arrived in the repository is not recorded)"
		}
		id := page + "#" + url.QueryEscape(ch.Kind+"-"+ch.Version+"-"+ch.When.UTC().Format(time.RFC3339Nano))
		if ch.Recorded {
			// A generation changes a package once: the same entry for as
			// long as the record is read.
			id = page + "#generation-" + strconv.FormatInt(ch.Generation, 10)
			summary += " (generation " + strconv.FormatInt(ch.Generation, 10) + ")"
		}
		feed.Entries = append(feed.Entries, atomEntry{
			Title:   title,
			ID:      id,
			Updated: ch.When.UTC().Format(time.RFC3339),
			Link:    atomLink{Href: page},
			Summary: summary,
		})
	}
	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		h.pageError(w, err)
		return
	}
	body := append([]byte(xml.Header), out...)
	h.serveGenerated(w, r, c, "application/atom+xml; charset=utf-8", append(body, '\n'))
}

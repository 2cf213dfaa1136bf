package aurtest

import (
	"embed"
	"encoding/json"
	"fmt"
)

// Recorded holds replies in the shape the real AUR sends (sorted keys,
// nulls, split packages, out-of-date and orphaned packages, error
// envelopes), kept as files so that their shape is reviewable.
//
//go:embed testdata/*.json
var Recorded embed.FS

// RecordedReply returns the bytes of testdata/name.
func RecordedReply(name string) []byte {
	b, err := Recorded.ReadFile("testdata/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// LoadRecorded adds the results of the recorded info replies named (e.g.
// "info-yay.json") to the server's packages.
func (s *Server) LoadRecorded(names ...string) {
	for _, n := range names {
		var env struct {
			Results []map[string]any `json:"results"`
		}
		if err := json.Unmarshal(RecordedReply(n), &env); err != nil {
			panic(fmt.Sprintf("%s: %v", n, err))
		}
		s.mu.Lock()
		s.pkgs = append(s.pkgs, env.Results...)
		s.metaDirty = true
		s.mu.Unlock()
	}
}

package aur

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// recordedReplies returns the recorded aurweb replies of aurtest.
func recordedReplies(f *testing.F) [][]byte {
	paths, err := filepath.Glob(filepath.Join("aurtest", "testdata", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no recorded replies: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecodeReply: any reply body decodes to results, an *RPCError with a
// message, or an error, and never panics; results survive a round trip.
func FuzzDecodeReply(f *testing.F) {
	for _, b := range recordedReplies(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"version":5,"type":"multiinfo","resultcount":1,"results":[{"Name":"a","OutOfDate":null,"Maintainer":null}]}`))
	f.Add([]byte(`{"version":4,"type":"multiinfo","results":[]}`))
	f.Add([]byte(`{"type":"error","error":""}`))
	f.Add([]byte(`{"version":5,"results":{"Name":"a"}}`))
	f.Add([]byte(`<html>502 Bad Gateway</html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		pkgs, err := decodeReply(bytes.NewReader(body), "https://aur.example/rpc/v5/info?arg[]=x")
		var rpcErr *RPCError
		if errors.As(err, &rpcErr) && rpcErr.Message == "" {
			t.Fatalf("RPC error without a message from %q", body)
		}
		if err != nil {
			if pkgs != nil {
				t.Fatalf("results and an error from %q", body)
			}
			return
		}
		for _, p := range pkgs {
			_ = p.Base()
			_ = p.IsOutOfDate()
		}
		b, err := json.Marshal(pkgs)
		if err != nil {
			t.Fatalf("results of %q do not encode: %v", body, err)
		}
		var again []Package
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("results of %q do not decode again: %v", body, err)
		}
		if len(pkgs) > 0 && !reflect.DeepEqual(normalizePackages(pkgs), normalizePackages(again)) {
			t.Fatalf("results of %q changed in a round trip:\n%+v\n%+v", body, pkgs, again)
		}
	})
}

// normalizePackages makes empty lists nil: the lists are omitempty.
func normalizePackages(pkgs []Package) []Package {
	out := make([]Package, len(pkgs))
	for i, p := range pkgs {
		for _, l := range []*[]string{&p.Depends, &p.MakeDepends, &p.CheckDepends, &p.OptDepends,
			&p.Conflicts, &p.Provides, &p.Replaces, &p.Groups, &p.License, &p.Keywords, &p.CoMaintainers} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		out[i] = p
	}
	return out
}

// FuzzReadMeta: a metadata dump decodes the same plain and gzip'd, calls
// fn once per object in order, and never panics.
func FuzzReadMeta(f *testing.F) {
	for _, b := range recordedReplies(f) {
		var env envelope
		if json.Unmarshal(b, &env) == nil && len(env.Results) > 0 {
			dump, err := json.Marshal(env.Results)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(dump)
		}
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"Name":"a","Version":"1-1"},{"Name":"b","OutOfDate":17}] trailing`))
	f.Add([]byte(`{"Name":"a"}`))
	f.Add([]byte(`[{"Name":"a"},`))
	f.Fuzz(func(t *testing.T, dump []byte) {
		read := func(b []byte) ([]Package, error) {
			var got []Package
			err := ReadMeta(bytes.NewReader(b), func(p *Package) error {
				got = append(got, *p)
				return nil
			})
			return got, err
		}
		plain, perr := read(dump)
		if len(dump) >= 2 && dump[0] == 0x1f && dump[1] == 0x8b {
			return // gzip'd already: wrapping it again is another dump
		}
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write(dump)
		zw.Close()
		zipped, zerr := read(zb.Bytes())
		if (perr == nil) != (zerr == nil) || !reflect.DeepEqual(plain, zipped) {
			t.Fatalf("dump %q: plain gives %d objects (%v), gzip'd %d (%v)", dump, len(plain), perr, len(zipped), zerr)
		}
	})
}

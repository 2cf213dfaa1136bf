package compress

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"

	"github.com/pacrepo/pacrepo/internal/testutil/reftool"
	"github.com/pacrepo/pacrepo/internal/testutil/sweep"
)

// tool is the command-line program of each compressed format, used as the
// reference implementation.
var tool = map[Format]string{Gzip: "gzip", Bzip2: "bzip2", Xz: "xz", Zstd: "zstd", Lz4: "lz4"}

// needTool returns the path of a reference tool; a missing one skips the
// test, or fails it when strict. reftool, not testutil, which imports this
// package.
func needTool(t *testing.T, name string) string {
	t.Helper()
	return reftool.Require(t, name)
}

// sample returns some compressible but not trivial data: a tar archive, so
// that None round-trips through Sniff as well.
func sample(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, n)
	words := []string{"usr/", "bin/", "lib", "share", "pacman", "repo", "\n", " "}
	for i := 0; i < n; {
		w := words[rng.IntN(len(words))]
		i += copy(body[i:], w)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(n)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compressWith(t testing.TB, f Format, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decompress(t testing.TB, data []byte) ([]byte, Format) {
	t.Helper()
	r, f, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %v: %v", f, err)
	}
	return out, f
}

func TestRoundTrip(t *testing.T) {
	data := sample(t, 300<<10)
	for _, f := range Formats {
		t.Run(f.String(), func(t *testing.T) {
			z := compressWith(t, f, data)
			got, gf := decompress(t, z)
			if gf != f {
				t.Errorf("detected %v, want %v", gf, f)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("round trip changed the data (%d bytes, want %d)", len(got), len(data))
			}
			r, _, err := NewReader(iotest.OneByteReader(bytes.NewReader(z)))
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("one byte at a time: %d bytes, %v", len(got), err)
			}
			if again := compressWith(t, f, data); !bytes.Equal(again, z) {
				t.Errorf("output is not deterministic")
			}
		})
	}
}

// TestWritersReadableByTools checks that every writer produces what the
// reference command-line tools (and so libarchive, pacman) accept.
func TestWritersReadableByTools(t *testing.T) {
	data := sample(t, 200<<10)
	for f, name := range tool {
		t.Run(f.String(), func(t *testing.T) {
			needTool(t, name)
			cmd := exec.Command(name, "-d", "-c")
			cmd.Stdin = bytes.NewReader(compressWith(t, f, data))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s -d: %v: %s", name, err, stderr.Bytes())
			}
			if !bytes.Equal(out, data) {
				t.Errorf("%s -d gave %d bytes, want %d", name, len(out), len(data))
			}
		})
	}
}

// TestReadToolOutput reads what the reference tools write, with the
// options makepkg uses and multi-stream/multi-threaded variants.
func TestReadToolOutput(t *testing.T) {
	data := sample(t, 500<<10)
	cases := []struct {
		f    Format
		args []string
	}{
		{Gzip, []string{"gzip", "-c", "-f", "-n"}},
		{Bzip2, []string{"bzip2", "-c", "-f"}},
		{Xz, []string{"xz", "-c", "-z", "-"}},
		{Xz, []string{"xz", "-c", "-z", "-T2", "--block-size=65536", "-"}},
		{Xz, []string{"xz", "-c", "-z", "-9e", "-"}},
		{Zstd, []string{"zstd", "-c", "-z", "-q", "-"}},
		{Zstd, []string{"zstd", "-c", "-T0", "--ultra", "-20", "-q", "-"}},
		{Zstd, []string{"zstd", "-c", "-q", "--long=27", "-"}},
		{Lz4, []string{"lz4", "-q", "-c"}},
		{Lz4, []string{"lz4", "-q", "-c", "-B4", "--content-size"}},
	}
	for _, c := range cases {
		t.Run(c.args[0]+" "+c.args[len(c.args)-2], func(t *testing.T) {
			needTool(t, c.args[0])
			cmd := exec.Command(c.args[0], c.args[1:]...)
			cmd.Stdin = bytes.NewReader(data)
			z, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", c.args, err)
			}
			got, f := decompress(t, z)
			if f != c.f {
				t.Errorf("detected %v, want %v", f, c.f)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("got %d bytes, want %d", len(got), len(data))
			}
		})
	}
	t.Run("gzip multistream", func(t *testing.T) {
		z := append(compressWith(t, Gzip, data[:1000]), compressWith(t, Gzip, data[1000:])...)
		if got, _ := decompress(t, z); !bytes.Equal(got, data) {
			t.Errorf("multistream gzip: got %d bytes, want %d", len(got), len(data))
		}
	})
}

func TestSniff(t *testing.T) {
	tarHead := sample(t, 10)[:512]
	cases := []struct {
		head []byte
		f    Format
		ok   bool
	}{
		{[]byte{0x1f, 0x8b, 8}, Gzip, true},
		{[]byte("BZh91AY&SY"), Bzip2, true},
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, Xz, true},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd, 0}, Zstd, true},
		{[]byte{0x04, 0x22, 0x4d, 0x18}, Lz4, true},
		{tarHead, None, true},
		{tarHead[:261], 0, false},
		{[]byte{0x1f, 0x9d, 0x90}, 0, false}, // compress(1)
		{[]byte("\x7fELF\x02\x01\x01"), 0, false},
		{[]byte("\x89PNG\r\n\x1a\n"), 0, false},
		{[]byte("pkgname = foo\n"), 0, false},
		{nil, 0, false},
	}
	for _, c := range cases {
		f, ok := Sniff(c.head)
		if f != c.f || ok != c.ok {
			t.Errorf("Sniff(%q) = %v, %v; want %v, %v", c.head[:min(len(c.head), 8)], f, ok, c.f, c.ok)
		}
	}
}

func TestNewReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"text", []byte("hello, world\nthis is not a package\n"), ErrUnknownFormat},
		{"elf", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 600)...), ErrUnknownFormat},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ErrUnknownFormat},
		{"compress", []byte{0x1f, 0x9d, 0x90, 'a', 'b'}, ErrUnsupported},
		{"gzip cut in magic", []byte{0x1f}, io.ErrUnexpectedEOF},
		{"xz cut in magic", []byte{0xfd, '7', 'z'}, io.ErrUnexpectedEOF},
		{"gzip cut in header", []byte{0x1f, 0x8b, 8, 0}, io.ErrUnexpectedEOF},
		{"tar cut in header", sample(t, 10)[:200], io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _, err := NewReader(bytes.NewReader(c.data))
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, c.want) {
				t.Errorf("NewReader error = %v, want %v", err, c.want)
			}
		})
	}
}

// TestTruncatedSweep checks that every decoder reports a stream cut short
// as an error (never a clean io.EOF), so that callers can tell incomplete
// files.
func TestTruncatedSweep(t *testing.T) {
	data := sample(t, 100<<10)
	for _, f := range Formats[1:] {
		t.Run(f.String(), func(t *testing.T) {
			z := compressWith(t, f, data)
			cuts := []int{}
			for i := 1; i < 64 && i < len(z); i++ {
				cuts = append(cuts, i)
			}
			for i := 64; i < len(z); i += 97 {
				cuts = append(cuts, i)
			}
			cuts = append(cuts, len(z)-4, len(z)-3, len(z)-2, len(z)-1)
			for _, n := range sweep.Cases(t, cuts) {
				r, _, err := NewReader(bytes.NewReader(z[:n]))
				if err == nil {
					_, err = io.Copy(io.Discard, r)
					r.Close()
				}
				if err == nil {
					t.Errorf("cut at %d of %d: no error", n, len(z))
				} else if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Logf("cut at %d of %d: %v", n, len(z), err)
				}
			}
		})
	}
}

func TestZstdWindowLimit(t *testing.T) {
	zstdPath := needTool(t, "zstd")
	// A frame declaring a 256 MiB window (--long=28) must be refused
	// without allocating it. Data larger than 128 MiB is needed for zstd to
	// keep the large window in the header, so write a sparse-friendly input.
	if testing.Short() {
		t.Skip("needs 129 MiB of input")
	}
	cmd := exec.Command(zstdPath, "-c", "-q", "-1", "--long=28", "-")
	cmd.Stdin = io.LimitReader(zeroReader{}, 129<<20)
	z, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r, f, err := NewReader(bytes.NewReader(z))
	if err == nil {
		_, err = io.Copy(io.Discard, r)
		r.Close()
	}
	if f != Zstd || err == nil {
		t.Fatalf("format %v, err %v; want zstd and a window error", f, err)
	}
	t.Logf("error: %v", err)
}

func TestXzDictLimit(t *testing.T) {
	xzPath := needTool(t, "xz")
	cmd := exec.Command(xzPath, "-c", "-z", "--lzma2=dict=1536MiB", "-")
	cmd.Stdin = bytes.NewReader([]byte("tiny"))
	z, err := cmd.Output()
	if err != nil {
		t.Skipf("xz cannot write a 1.5 GiB dictionary here: %v", err)
	}
	_, _, err = NewReader(bytes.NewReader(z))
	if err == nil {
		t.Fatal("an xz stream asking for a 1.5 GiB dictionary was accepted")
	}
	t.Logf("error: %v", err)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestFormatForName(t *testing.T) {
	cases := []struct {
		name string
		f    Format
		err  error
	}{
		{"repo.db.tar", None, nil},
		{"repo.db.tar.gz", Gzip, nil},
		{"repo.files.tar.bz2", Bzip2, nil},
		{"/x/repo.db.tar.xz", Xz, nil},
		{"repo.db.tar.zst", Zstd, nil},
		{"repo.db.tar.lz4", Lz4, nil},
		{"repo.db.tar.Z", 0, ErrUnsupported},
		{"repo.db.tar.lrz", 0, ErrUnsupported},
		{"repo.db.tar.lzo", 0, ErrUnsupported},
		{"repo.db.tar.lz", 0, ErrUnsupported},
		{"repo.db", 0, ErrUnknownFormat},
		{"repo.db.zst", 0, ErrUnknownFormat},
		{"repo.db.tar.gz.old", 0, ErrUnknownFormat},
	}
	for _, c := range cases {
		f, err := FormatForName(c.name)
		if f != c.f || !errors.Is(err, c.err) {
			t.Errorf("FormatForName(%q) = %v, %v; want %v, %v", c.name, f, err, c.f, c.err)
		}
	}
	for _, f := range Formats {
		if g, err := FormatForName("x.tar" + f.Ext()); g != f || err != nil {
			t.Errorf("FormatForName(x.tar%s) = %v, %v", f.Ext(), g, err)
		}
	}
}

// FuzzNewReader feeds arbitrary bytes (seeded with valid streams of every
// format) through NewReader: it must never panic, and decompression is
// bounded so that a small input cannot expand without limit.
func FuzzNewReader(f *testing.F) {
	data := sample(f, 4<<10)
	for _, fm := range Formats {
		z := compressWith(f, fm, data)
		f.Add(z)
		f.Add(z[:len(z)/2])
	}
	f.Add([]byte{0x1f, 0x9d, 0x90})
	f.Add([]byte("not compressed"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, _, err := NewReader(bytes.NewReader(in))
		if err != nil {
			if r != nil {
				t.Fatal("reader returned with an error")
			}
			return
		}
		defer r.Close()
		// Bound the output: formats can legitimately expand a lot, the
		// point is that reading is bounded and never panics.
		io.Copy(io.Discard, io.LimitReader(r, 64<<20))
	})
}

// TestZstdPoolReuse interleaves failed and successful reads so that pooled
// decoders are reused after errors, after partial reads and after Close
// without reading.
func TestZstdPoolReuse(t *testing.T) {
	data := sample(t, 64<<10)
	z := compressWith(t, Zstd, data)
	bad := append([]byte(nil), z...)
	bad[len(bad)/2] ^= 0xff
	for i := range 50 {
		var in []byte
		switch i % 4 {
		case 0:
			in = z[:len(z)/2]
		case 1:
			in = bad
		default:
			in = z
		}
		r, _, err := NewReader(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 6 {
			r.Close() // closed unread
			continue
		}
		got, err := io.ReadAll(r)
		r.Close()
		if (err == nil) != (i%4 >= 2) {
			t.Fatalf("read %d: err %v", i, err)
		}
		if err == nil && !bytes.Equal(got, data) {
			t.Fatalf("read %d: wrong data from a reused decoder", i)
		}
		if _, err := r.Read(make([]byte, 1)); err == nil {
			t.Fatalf("read %d: read after Close succeeded", i)
		}
	}
}

// TestZstdEncoderPoolReuse: an encoder back from the pool writes the same
// bytes as a new one, also after a stream abandoned unclosed or closed
// twice, and refuses writes after Close.
func TestZstdEncoderPoolReuse(t *testing.T) {
	inputs := [][]byte{sample(t, 64<<10), []byte("small"), {}, sample(t, 300<<10)}
	fresh := make([][]byte, len(inputs))
	for i, in := range inputs {
		e, err := zstd.NewWriter(nil, zstdEncoderOptions...)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		e.Reset(&b)
		e.Write(in)
		e.Close()
		fresh[i] = b.Bytes()
	}
	for round := range 3 {
		for i, in := range inputs {
			var b bytes.Buffer
			w, err := NewWriter(&b, Zstd)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(in); err != nil {
				t.Fatal(err)
			}
			if round == 1 && i == 0 {
				continue // abandoned: never closed, never back in the pool
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if !bytes.Equal(b.Bytes(), fresh[i]) {
				t.Fatalf("round %d input %d: a pooled encoder wrote other bytes than a new one", round, i)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Fatalf("round %d input %d: write after Close succeeded", round, i)
			}
		}
	}
}

// TestXzStreamsAndPadding reads concatenated xz streams with stream
// padding (what xz(1) accepts) through the end-of-input guard.
func TestXzStreamsAndPadding(t *testing.T) {
	data := sample(t, 32<<10)
	a, b := compressWith(t, Xz, data[:1000]), compressWith(t, Xz, data[1000:])
	var in []byte
	in = append(in, a...)
	in = append(in, 0, 0, 0, 0)
	in = append(in, b...)
	in = append(in, make([]byte, 8)...)
	if got, _ := decompress(t, in); !bytes.Equal(got, data) {
		t.Errorf("two padded streams: got %d bytes, want %d", len(got), len(data))
	}
	for _, pad := range []int{1, 3} {
		r, _, err := NewReader(bytes.NewReader(append(append([]byte(nil), a...), make([]byte, pad)...)))
		if err == nil {
			_, err = io.Copy(io.Discard, r)
			r.Close()
		}
		if err == nil {
			t.Errorf("padding of %d bytes (not a multiple of 4) accepted", pad)
		}
	}
}

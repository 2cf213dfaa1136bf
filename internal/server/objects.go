package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/pacrepo/pacrepo/internal/layout"
	"github.com/pacrepo/pacrepo/internal/objstore"
)

// serveObject serves one public file of a repository in object storage:
// the object it resolves to, read through ranged requests so that
// http.ServeContent answers ranges and conditional requests as for a file.
func (h *handler) serveObject(w http.ResponseWriter, r *http.Request, repo Repository, name string, kind layout.Kind) {
	h.serveResolved(w, r, repo, name, kind, func(ctx context.Context) (objstore.Object, error) {
		return repo.Objects.Resolve(ctx, name)
	})
}

// serveResolved serves the object resolve finds for the public file name
// of repo.
func (h *handler) serveResolved(w http.ResponseWriter, r *http.Request, repo Repository, name string, kind layout.Kind,
	resolve func(context.Context) (objstore.Object, error)) {
	obj, err := resolve(r.Context())
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			notFound(w)
			return
		}
		http.Error(w, "object storage: "+err.Error(), http.StatusBadGateway)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	if obj.ETag != "" {
		hdr.Set("ETag", obj.ETag)
	}
	if kind == layout.Package {
		hdr.Set("Cache-Control", cachePackage)
	} else {
		hdr.Set("Cache-Control", cacheDatabase)
	}
	limitRanges(r, obj.Size)
	content := &objectReader{ctx: r.Context(), objects: repo.Objects, obj: obj}
	defer content.Close()
	http.ServeContent(w, r, name, obj.Modified, content)
}

// objectReader reads an object as an io.ReadSeeker: a seek is remembered,
// and the next read opens the object from there.
type objectReader struct {
	ctx     context.Context
	objects Objects
	obj     objstore.Object
	off     int64
	body    io.ReadCloser
}

func (o *objectReader) Read(p []byte) (int, error) {
	if o.off >= o.obj.Size {
		return 0, io.EOF
	}
	if o.body == nil {
		body, err := o.objects.OpenAt(o.ctx, o.obj, o.off)
		if err != nil {
			return 0, err
		}
		o.body = body
	}
	// Never past the size announced: the object cannot change, and a
	// response must be as long as its Content-Length.
	if rest := o.obj.Size - o.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	if err == io.EOF && o.off < o.obj.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	var to int64
	switch whence {
	case io.SeekStart:
		to = offset
	case io.SeekCurrent:
		to = o.off + offset
	case io.SeekEnd:
		to = o.obj.Size + offset
	default:
		return 0, fmt.Errorf("seek: whence %d", whence)
	}
	if to < 0 {
		return 0, errors.New("seek: negative position")
	}
	if to != o.off {
		o.Close()
		o.off = to
	}
	return to, nil
}

func (o *objectReader) Close() error {
	if o.body == nil {
		return nil
	}
	err := o.body.Close()
	o.body = nil
	return err
}

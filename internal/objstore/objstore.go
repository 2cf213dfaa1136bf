// Package objstore is the little of S3-compatible object storage a
// repository needs: objects written once (If-None-Match: *), reads,
// copies, listing and deletion. It also probes whether a server honours create-once
// writes, since some accept the header and ignore it.
package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrNotFound says an object does not exist.
var ErrNotFound = errors.New("no such object")

// ErrPrecondition says a conditional write lost: the object exists (a
// create) or is no longer the one read (a replace).
var ErrPrecondition = errors.New("precondition failed")

// ErrNoCredentials says no AWS credentials were found.
var ErrNoCredentials = errors.New("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and ~/.aws/credentials")

// ErrNoBucket says the bucket does not exist.
var ErrNoBucket = errors.New("no such bucket")

// ErrNoConditionalWrites says the server ignores conditional writes:
// without them two publishers overwrite each other's commits.
var ErrNoConditionalWrites = errors.New("the server ignores conditional writes (If-None-Match: *)")

// Config says which bucket to use and how to reach it. Credentials and the
// region come the standard AWS way (environment, shared config and
// credentials files, AWS_PROFILE).
type Config struct {
	Bucket string
	// Endpoint is the server's URL for S3-compatible servers; empty means
	// AWS (or AWS_ENDPOINT_URL). With an endpoint, buckets are addressed
	// by path, which every S3-compatible server understands.
	Endpoint string
}

// Bucket is one bucket of an S3-compatible server.
type Bucket struct {
	client *s3.Client
	name   string
}

// Object describes a stored object.
type Object struct {
	Key      string
	Size     int64
	ETag     string
	SHA256   string // lowercase hex, as recorded when written here; "" when unknown
	Modified time.Time
}

// metaSHA256 is the user metadata holding an object's SHA-256 (hex): the
// server's own checksum is returned only by some servers and only on
// request.
const metaSHA256 = "sha256"

// Open prepares a client for c.Bucket. It makes no request to the
// bucket; finding the credentials may ask the instance metadata service.
func Open(ctx context.Context, c Config) (*Bucket, error) {
	if c.Bucket == "" {
		return nil, errors.New("no bucket")
	}
	opts := []func(*config.LoadOptions) error{}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		// S3-compatible servers rarely care; the SDK refuses to sign
		// without one. A region from the shared config still wins.
		opts = append(opts, config.WithDefaultRegion("us-east-1"))
	}
	// The SDK's own log lines (IMDS fall-backs, retries) would interleave
	// with pacrepo's output; its errors say what matters.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Missing credentials would otherwise surface deep in the first
	// request's error chain.
	if awsCfg.Credentials == nil {
		return nil, fmt.Errorf("bucket %s: %w", c.Bucket, ErrNoCredentials)
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("bucket %s: %w (%v)", c.Bucket, ErrNoCredentials, err)
	}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL_S3")
	}
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
		// The SDK's default CRC32 on every request breaks servers that do
		// not know it; uploads carry their SHA-256 instead.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Bucket{client: client, name: c.Bucket}, nil
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Get opens an object for reading.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return nil, Object{}, b.wrap("get", key, err)
	}
	return out.Body, Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		SHA256: out.Metadata[metaSHA256], Modified: aws.ToTime(out.LastModified)}, nil
}

// GetFrom opens an object for reading from byte offset off (an HTTP range
// request when off > 0).
func (b *Bucket) GetFrom(ctx context.Context, key string, off int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	if off > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, b.wrap("get", key, err)
	}
	return out.Body, nil
}

// Head describes an object without reading it.
func (b *Bucket) Head(ctx context.Context, key string) (Object, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return Object{}, b.wrap("head", key, err)
	}
	return Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag),
		SHA256: out.Metadata[metaSHA256], Modified: aws.ToTime(out.LastModified)}, nil
}

// Create writes a new object from body (size bytes of SHA-256 sum, hex)
// only if key does not exist: ErrPrecondition when it does. The server
// verifies the SHA-256 and refuses a body damaged on the way.
func (b *Bucket) Create(ctx context.Context, key string, body io.ReadSeeker, size int64, sum string) (Object, error) {
	return b.put(ctx, key, body, size, sum, true)
}

// put writes key from body; onlyNew makes it a create (If-None-Match: *).
func (b *Bucket) put(ctx context.Context, key string, body io.ReadSeeker, size int64, sum string, onlyNew bool) (Object, error) {
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != sha256.Size {
		return Object{}, fmt.Errorf("put %s: bad SHA-256 %q", key, sum)
	}
	in := &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: body, ContentLength: aws.Int64(size),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(raw)),
		Metadata:       map[string]string{metaSHA256: sum}}
	if onlyNew {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := b.client.PutObject(ctx, in)
	if err != nil {
		return Object{}, b.wrap("put", key, err)
	}
	return Object{Key: key, Size: size, ETag: aws.ToString(out.ETag), SHA256: sum, Modified: time.Now()}, nil
}

// Put writes data under key, replacing whatever is there: only for
// objects any recent content of which will do (lastupdate).
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	_, err := b.put(ctx, key, bytes.NewReader(data), int64(len(data)), SumOf(data), false)
	return err
}

// CreateBytes is Create of data in memory.
func (b *Bucket) CreateBytes(ctx context.Context, key string, data []byte) (Object, error) {
	return b.Create(ctx, key, bytes.NewReader(data), int64(len(data)), SumOf(data))
}

// Copy copies src to dst (replacing dst), keeping src's metadata.
func (b *Bucket) Copy(ctx context.Context, src, dst string) error {
	source := b.name + "/" + escapeKey(src)
	_, err := b.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b.name, Key: &dst, CopySource: &source,
		MetadataDirective: types.MetadataDirectiveCopy})
	if err != nil {
		return b.wrap("copy "+src+" to", dst, err)
	}
	return nil
}

// Rewrite writes key again with the content it has (size bytes of SHA-256
// sum), only to renew its modification time: the caller has checked that
// the object holds exactly this content.
func (b *Bucket) Rewrite(ctx context.Context, key string, body io.ReadSeeker, size int64, sum string) error {
	_, err := b.put(ctx, key, body, size, sum, false)
	return err
}

// Delete removes key; a key that does not exist is no error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key}); err != nil {
		if err := b.wrap("delete", key, err); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// DeleteIfMatch removes key only if it is still the object of ETag etag
// (If-Match): ErrPrecondition when another object is there now. A key
// that does not exist is no error. A server that ignores If-Match on a
// delete deletes whatever is there.
func (b *Bucket) DeleteIfMatch(ctx context.Context, key, etag string) error {
	if etag == "" {
		return fmt.Errorf("delete s3://%s/%s: no ETag to delete it by", b.name, key)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.name, Key: &key, IfMatch: &etag}); err != nil {
		if err := b.wrap("delete", key, err); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// List returns every object whose key starts with prefix.
func (b *Bucket) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.name, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, listed(o))
		}
	}
	return out, nil
}

// listed is an object as a listing describes it (without its SHA-256).
func listed(o types.Object) Object {
	return Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), Modified: aws.ToTime(o.LastModified)}
}

// ListLevel returns the objects directly under prefix (which ends with a
// slash, or is empty) and the prefixes one level further down (each
// ending with a slash), not the objects below those: the directory
// listing of prefix.
func (b *Bucket) ListLevel(ctx context.Context, prefix string) (objects []Object, prefixes []string, err error) {
	delimiter := "/"
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.name, Prefix: &prefix, Delimiter: &delimiter})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, b.wrap("list", prefix, err)
		}
		for _, o := range page.Contents {
			objects = append(objects, listed(o))
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
	}
	return objects, prefixes, nil
}

// Probe checks, with objects under key (which must be free), that the
// server refuses a second create of one key (If-None-Match: *), the one
// conditional write a repository's commits rely on; ErrNoConditionalWrites
// when it does not. It cleans up after itself.
//
// One pair of creates that both succeed is not yet a verdict: under load,
// a probe against versitygw (which honours the header) once saw its second
// create succeed. A server that ignores the header lets every pair
// through, so the probe concludes after probeAttempts.
func (b *Bucket) Probe(ctx context.Context, key string) error {
	var err error
	for i := range probeAttempts {
		if err = b.probeOnce(ctx, fmt.Sprintf("%s-%d", key, i)); !errors.Is(err, ErrNoConditionalWrites) {
			return err
		}
	}
	return err
}

const probeAttempts = 3

func (b *Bucket) probeOnce(ctx context.Context, key string) error {
	defer b.Delete(context.WithoutCancel(ctx), key)
	if _, err := b.CreateBytes(ctx, key, []byte("pacrepo probe 1\n")); err != nil && !errors.Is(err, ErrPrecondition) {
		// (A probe object left by a killed probe is as good a start.)
		return fmt.Errorf("probe conditional writes: %w", err)
	}
	_, err := b.CreateBytes(ctx, key, []byte("pacrepo probe 2\n"))
	switch {
	case errors.Is(err, ErrPrecondition):
		return nil
	case err != nil:
		return fmt.Errorf("probe conditional writes: %w", err)
	}
	return fmt.Errorf("%w: it let an object be created twice (If-None-Match: *)", ErrNoConditionalWrites)
}

// SumOf is the SHA-256 of data, hex.
func SumOf(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// wrap names the operation, the bucket and the key, and maps the
// server's answers that callers tell apart onto ErrNotFound and
// ErrPrecondition.
func (b *Bucket) wrap(op, key string, err error) error {
	var kind error
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			kind = ErrNotFound
		case http.StatusPreconditionFailed, http.StatusConflict:
			// 409 is AWS's answer to two conditional writes at once.
			kind = ErrPrecondition
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			kind = ErrNoBucket
		case "NoSuchKey", "NotFound":
			if kind == nil {
				kind = ErrNotFound
			}
		case "PreconditionFailed", "ConditionalRequestConflict":
			kind = ErrPrecondition
		}
	}
	switch {
	case errors.Is(kind, ErrNoBucket):
		return fmt.Errorf("%s s3://%s/%s: bucket %s: %w", op, b.name, key, b.name, kind)
	case kind != nil:
		return fmt.Errorf("%s s3://%s/%s: %w", op, b.name, key, kind)
	case ae != nil:
		// The server's code and message, without the SDK's chain of
		// operation, request and host IDs.
		return fmt.Errorf("%s s3://%s/%s: %s (%s)", op, b.name, key, ae.ErrorMessage(), ae.ErrorCode())
	}
	return fmt.Errorf("%s s3://%s/%s: %w", op, b.name, key, err)
}

// escapeKey escapes a key for CopySource, which is a URL path.
func escapeKey(key string) string {
	var sb strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "%%%02X", c)
		}
	}
	return sb.String()
}

package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Presigned URL lifetimes. SigV4 caps a presigned URL at seven days; the
// default matches the reference node's 24 hours.
const (
	DefaultPresignExpiry = 24 * time.Hour
	MaxPresignExpiry     = 7 * 24 * time.Hour
)

// Get opens the object, or a range of it, with one GetObject. The body
// outlives ctx: ctx bounds the request until the response headers arrive,
// then only Close stops the transfer.
func (b *Backend) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	st, err := b.readyKey(ctx, "get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)}
	r := opts.Range
	if r != nil {
		if r.Offset < 0 || r.Length == 0 {
			return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: storage.ErrInvalidRange}
		}
		if r.Length > 0 {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1))
		} else {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.Offset))
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	out, err := st.client.GetObject(rctx, in)
	if !stop() {
		if err == nil {
			out.Body.Close()
		}
		cancel()
		return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: ctx.Err()}
	}
	if err != nil {
		cancel()
		// S3 answers 416 to any range of an empty object, where the
		// storage rules accept the whole-object range 0-.
		if r != nil && r.Offset == 0 && httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			if oi, serr := b.Stat(ctx, key); serr == nil && oi.Size == 0 {
				return io.NopCloser(strings.NewReader("")), oi, nil
			}
		}
		return nil, storage.ObjectInfo{}, opErr(ctx, "get", key, err)
	}
	oi := storage.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified),
	}
	rc := &body{ReadCloser: out.Body, cancel: cancel}
	if r == nil {
		return rc, oi, nil
	}
	if total, ok := contentRangeTotal(aws.ToString(out.ContentRange)); ok {
		oi.Size = total
		return rc, oi, nil
	}
	// The server ignored the range and sent the whole object: cut it here.
	off, n, err := r.Resolve(oi.Size)
	if err != nil {
		rc.Close()
		return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: err}
	}
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		rc.Close()
		return nil, storage.ObjectInfo{}, opErr(ctx, "get", key, fmt.Errorf("skipping to the range: %w", err))
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, n), rc}, oi, nil
}

// body is a response body whose Close also ends its request context.
type body struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// contentRangeTotal returns the complete length from a Content-Range
// header, "bytes 3-6/10".
func contentRangeTotal(h string) (int64, bool) {
	_, total, ok := strings.Cut(h, "/")
	if !ok || !strings.HasPrefix(h, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

// Stat returns the object's info with HeadObject.
func (b *Backend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	st, err := b.readyKey(ctx, "stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return st.head(ctx, "stat", key, "")
}

// head runs HeadObject, with If-Match when etag is set.
func (st *state) head(ctx context.Context, op, key, etag string) (storage.ObjectInfo, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := st.client.HeadObject(ctx, in)
	if err != nil {
		return storage.ObjectInfo{}, opErr(ctx, op, key, err)
	}
	return storage.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		ETag: aws.ToString(out.ETag), ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// Delete removes the object. S3 deletes missing keys silently, so a
// HeadObject first finds those; a concurrent delete between the two may
// still both succeed.
func (b *Backend) Delete(ctx context.Context, key string) error {
	st, err := b.readyKey(ctx, "delete", key)
	if err != nil {
		return err
	}
	if _, err := st.head(ctx, "delete", key, ""); err != nil {
		return err
	}
	if _, err := st.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)}); err != nil {
		return opErr(ctx, "delete", key, err)
	}
	return nil
}

// maxListPage is S3's own page cap.
const maxListPage = 1000

// List returns one ListObjectsV2 page. Objects whose names are not valid
// storage keys (written by other tools, e.g. "folder/" markers) are
// skipped, so a page may hold fewer than Limit objects.
func (b *Backend) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	st, err := b.ready("list", opts.Prefix)
	if err != nil {
		return storage.ListPage{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.ListPage{}, &storage.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	limit := opts.Limit
	if limit <= 0 || limit > maxListPage {
		limit = maxListPage
	}
	in := &s3.ListObjectsV2Input{
		Bucket: aws.String(st.cfg.Bucket), Prefix: aws.String(st.cfg.Prefix + opts.Prefix), MaxKeys: aws.Int32(int32(limit)),
	}
	if opts.After != "" {
		in.StartAfter = aws.String(st.cfg.Prefix + opts.After)
	}
	out, err := st.client.ListObjectsV2(ctx, in)
	if err != nil {
		return storage.ListPage{}, opErr(ctx, "list", opts.Prefix, err)
	}
	var page storage.ListPage
	last := ""
	for _, o := range out.Contents {
		key, ok := strings.CutPrefix(aws.ToString(o.Key), st.cfg.Prefix)
		if !ok {
			continue
		}
		last = key
		if !storage.ValidKey(key) {
			continue
		}
		page.Objects = append(page.Objects, storage.ObjectInfo{
			Key: key, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), ModTime: aws.ToTime(o.LastModified),
		})
	}
	if aws.ToBool(out.IsTruncated) && last != "" {
		page.Next = last
	}
	return page, nil
}

// Presign returns a SigV4 presigned URL for GET or PUT of the object.
// Expires defaults to DefaultPresignExpiry and may not exceed
// MaxPresignExpiry. Signing is local: the URL does not prove the object
// exists.
func (b *Backend) Presign(ctx context.Context, key string, opts storage.PresignOptions) (string, error) {
	st, err := b.readyKey(ctx, "presign", key)
	if err != nil {
		return "", err
	}
	exp := opts.Expires
	switch {
	case exp == 0:
		exp = DefaultPresignExpiry
	case exp < time.Second || exp > MaxPresignExpiry:
		return "", &storage.Error{Op: "presign", Key: key, Err: fmt.Errorf("expiry %v is outside [1s, %v]", exp, MaxPresignExpiry)}
	}
	with := s3.WithPresignExpires(exp)
	var url string
	switch opts.Method {
	case http.MethodGet:
		r, perr := st.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)}, with)
		if perr == nil {
			url = r.URL
		}
		err = perr
	case http.MethodPut:
		r, perr := st.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)}, with)
		if perr == nil {
			url = r.URL
		}
		err = perr
	default:
		return "", &storage.Error{Op: "presign", Key: key, Err: fmt.Errorf("method %q (only GET and PUT): %w", opts.Method, errors.ErrUnsupported)}
	}
	if err != nil {
		return "", opErr(ctx, "presign", key, err)
	}
	return url, nil
}

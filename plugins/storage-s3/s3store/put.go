package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nvm-node/nvm-node/sdk/storage"
)

// abortTimeout bounds the clean-up of a failed multipart upload, which
// runs even when the Put's context is cancelled.
const abortTimeout = time.Minute

func (st *state) getPart() *[]byte  { return st.parts.Get().(*[]byte) }
func (st *state) putPart(b *[]byte) { st.parts.Put(b) }

// Put stores the stream under key. The first part_size bytes are read
// into a pooled buffer: a stream that ends there is one PutObject; a
// longer one becomes a multipart upload, uploading one part while the next
// is read, so at most two parts are in memory. Any failure, cancellation
// included, aborts the upload: S3 then holds the old object or none.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	st, err := b.readyKey(ctx, "put", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if opts.IfAbsent {
		ok, err := st.ifAbsent.supported(ctx, st)
		if err != nil {
			return storage.ObjectInfo{}, opErr(ctx, "put", key, fmt.Errorf("checking the server's conditional writes: %w", err))
		}
		if !ok {
			return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: fmt.Errorf("this S3 server ignores If-None-Match, so IfAbsent cannot be honoured: %w", errors.ErrUnsupported)}
		}
	}
	buf := st.getPart()
	n, rerr := io.ReadFull(r, *buf)
	var etag string
	var size int64
	switch {
	case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
		size = int64(n)
		etag, err = st.putObject(ctx, key, (*buf)[:n], opts)
		st.putPart(buf)
	case rerr != nil:
		st.putPart(buf)
		return storage.ObjectInfo{}, opErr(ctx, "put", key, fmt.Errorf("reading the object: %w", rerr))
	default:
		etag, size, err = st.putMultipart(ctx, key, buf, r, opts)
	}
	if err != nil {
		return storage.ObjectInfo{}, st.refusedWrite(ctx, key, err)
	}
	// S3 answers a write with the ETag only; the rest comes from a HEAD
	// pinned to that ETag. If a concurrent Put replaced the object
	// meanwhile, report what this Put wrote.
	oi, herr := st.head(ctx, "put", key, etag)
	if herr != nil {
		oi = storage.ObjectInfo{Key: key, Size: size, ContentType: opts.ContentType, ETag: etag, ModTime: time.Now().Truncate(time.Second)}
	}
	return oi, nil
}

// putErr maps a failed write: with IfAbsent, a failed precondition means
// the key exists.
func putErr(ctx context.Context, key string, opts storage.PutOptions, err error) error {
	if opts.IfAbsent && ctx.Err() == nil && (httpStatus(err) == http.StatusPreconditionFailed || errorCode(err) == "PreconditionFailed") {
		return &storage.Error{Op: "put", Key: key, Err: fmt.Errorf("%w: %w", storage.ErrExist, err)}
	}
	return opErr(ctx, "put", key, err)
}

func (st *state) putObject(ctx context.Context, key string, data []byte, opts storage.PutOptions) (string, error) {
	in := &s3.PutObjectInput{
		Bucket: aws.String(st.cfg.Bucket), Key: st.object(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := st.client.PutObject(ctx, in)
	if err != nil {
		return "", putErr(ctx, key, opts, err)
	}
	return aws.ToString(out.ETag), nil
}

// partResult is the outcome of one UploadPart.
type partResult struct {
	part types.CompletedPart
	err  error
}

// putMultipart uploads first (a full part) and the rest of r as a
// multipart upload. It owns first and returns it to the pool.
func (st *state) putMultipart(ctx context.Context, key string, first *[]byte, r io.Reader, opts storage.PutOptions) (etag string, size int64, err error) {
	cin := &s3.CreateMultipartUploadInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)}
	if opts.ContentType != "" {
		cin.ContentType = aws.String(opts.ContentType)
	}
	up, err := st.client.CreateMultipartUpload(ctx, cin)
	if err != nil {
		st.putPart(first)
		return "", 0, opErr(ctx, "put", key, err)
	}
	id := up.UploadId
	defer func() {
		if err != nil {
			st.abort(key, id)
		}
	}()

	var parts []types.CompletedPart
	cur, curN := first, len(*first)
	for num := int32(1); ; num++ {
		if num > MaxParts {
			st.putPart(cur)
			return "", 0, &storage.Error{Op: "put", Key: key, Err: fmt.Errorf("object exceeds %d parts of %d bytes: raise part_size", MaxParts, st.cfg.PartSize)}
		}
		// A short part is the last one.
		last := curN < len(*cur)
		done := make(chan partResult, 1)
		go func(buf *[]byte, n int, num int32) {
			out, err := st.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(st.cfg.Bucket), Key: st.object(key), UploadId: id, PartNumber: aws.Int32(num),
				Body: bytes.NewReader((*buf)[:n]), ContentLength: aws.Int64(int64(n)),
			})
			// Back in the pool before the result is seen, so the reader's
			// next part reuses it rather than allocating a third.
			st.putPart(buf)
			if err != nil {
				done <- partResult{err: err}
				return
			}
			// No part checksums in the completion: the upload was
			// created without a checksum algorithm, and S3 then refuses
			// them (each part's own request was checked on arrival).
			done <- partResult{part: types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag}}
		}(cur, curN, num)
		size += int64(curN)

		// Read the next part while this one uploads.
		var next *[]byte
		var nextN int
		var rerr error
		if !last {
			next = st.getPart()
			nextN, rerr = io.ReadFull(r, *next)
		}
		res := <-done
		if res.err != nil {
			if next != nil {
				st.putPart(next)
			}
			return "", 0, opErr(ctx, "put", key, res.err)
		}
		parts = append(parts, res.part)
		if last {
			break
		}
		switch {
		case rerr == io.EOF:
			st.putPart(next)
		case rerr != nil && rerr != io.ErrUnexpectedEOF:
			st.putPart(next)
			return "", 0, opErr(ctx, "put", key, fmt.Errorf("reading the object: %w", rerr))
		case ctx.Err() != nil:
			st.putPart(next)
			return "", 0, &storage.Error{Op: "put", Key: key, Err: ctx.Err()}
		}
		if rerr == io.EOF {
			break
		}
		cur, curN = next, nextN
	}

	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(st.cfg.Bucket), Key: st.object(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if opts.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := st.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return "", 0, putErr(ctx, key, opts, err)
	}
	return aws.ToString(out.ETag), size, nil
}

// abort cancels a multipart upload so its parts do not linger (and cost)
// in the bucket, even when the Put's own context is gone.
func (st *state) abort(key string, id *string) {
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	_, err := st.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key), UploadId: id})
	if err != nil {
		st.log.Error("aborting a failed multipart upload; its parts remain until a bucket lifecycle rule removes them",
			"key", key, "upload_id", aws.ToString(id), "err", err)
	}
}

// ifAbsentProbe learns once whether the server honours If-None-Match: *
// on PutObject: some S3-compatible servers ignore the header and would
// silently overwrite. A failed probe is retried on the next IfAbsent Put.
type ifAbsentProbe struct {
	mu    sync.Mutex
	known bool
	ok    bool
}

func (p *ifAbsentProbe) supported(ctx context.Context, st *state) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known {
		return p.ok, nil
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	key := st.cfg.Prefix + ".nvm-node-probe/if-none-match-" + hex.EncodeToString(rnd[:])
	write := func() error {
		_, err := st.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(nil),
			ContentLength: aws.Int64(0), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := write(); err != nil {
		if errorCode(err) == "NotImplemented" || httpStatus(err) == http.StatusNotImplemented {
			p.known, p.ok = true, false
			return false, nil
		}
		return false, mapErr(err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, err := st.client.DeleteObject(dctx, &s3.DeleteObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key)}); err != nil {
			st.log.Warn("removing the conditional-write probe object", "key", key, "err", err)
		}
	}()
	err := write()
	switch {
	case err == nil:
		p.known, p.ok = true, false
		st.log.Warn("the S3 server ignores If-None-Match: IfAbsent Puts will fail with an unsupported error")
	case httpStatus(err) == http.StatusPreconditionFailed || errorCode(err) == "PreconditionFailed":
		p.known, p.ok = true, true
	case errorCode(err) == "NotImplemented" || httpStatus(err) == http.StatusNotImplemented:
		p.known, p.ok = true, false
	default:
		return false, mapErr(err)
	}
	return p.ok, nil
}

// refusedWrite tells a refused write from a network failure. A server that
// refuses a write (wrong credentials) may answer 403 and close the
// connection before reading the body; the client then sees a reset, not the
// 403. A body-less request with the same credentials says which it was.
func (st *state) refusedWrite(ctx context.Context, key string, err error) error {
	if errors.Is(err, storage.ErrPermission) || ctx.Err() != nil || httpStatus(err) != 0 {
		return err
	}
	_, herr := st.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: st.object(key)})
	if herr != nil && errors.Is(mapErr(herr), storage.ErrPermission) {
		return &storage.Error{Op: "put", Key: key, Err: fmt.Errorf("%w: the server refused the write and closed the connection (%w)", storage.ErrPermission, err)}
	}
	return err
}

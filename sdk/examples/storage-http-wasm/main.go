// Command storage-http-wasm is an example storage plugin built as a
// WebAssembly module that keeps its objects on an HTTP origin:
// "storage.http-wasm" maps key k to <origin>k, reading it with GET and
// HEAD and writing it with PUT and DELETE, the protocol of a WebDAV
// folder or of an object store's plain HTTP interface. The module reaches
// the origin through wasmguest.HTTPClient, so the origin's host must be
// granted in plugins.yaml:
//
//	plugins:
//	  - id: storage.http-wasm
//	    runtime: wasm
//	    path: /plugins/storage-http.wasm
//	    sha256: ...
//	    config: {origin: "http://127.0.0.1:9000/objects/"}
//	    grants:
//	      hosts: ["127.0.0.1:9000"]
//
// Bodies stream both ways: a GiB object passes through the module in
// pieces. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o storage-http.wasm ./examples/storage-http-wasm
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/wasmguest"
)

// backend relays each operation to the origin.
type backend struct {
	client *http.Client
	origin string // ends with /
}

type config struct {
	// Origin is the URL objects live under; it must end with "/".
	Origin string `json:"origin"`
}

func (b *backend) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Kind: plugin.KindStorage, Name: "http-wasm", Version: "v0.1.0", APIVersion: storage.APIVersion,
		Capabilities: []plugin.Capability{storage.CapWrite, storage.CapContentType, storage.CapIfAbsent},
	}, nil
}

func (b *backend) Configure(_ context.Context, raw plugin.Config) error {
	var c config
	if err := raw.Decode(&c); err != nil {
		return err
	}
	u, err := url.Parse(c.Origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("origin %q: want an http(s) URL ending with /: %w", c.Origin, plugin.ErrInvalidConfig)
	}
	b.origin = c.Origin
	return nil
}

func (b *backend) Close(context.Context) error { return nil }

// url returns the object's URL, each path element escaped.
func (b *backend) url(key string) string {
	elems := strings.Split(key, "/")
	for i, e := range elems {
		elems[i] = url.PathEscape(e)
	}
	return b.origin + strings.Join(elems, "/")
}

// do sends a request for key, mapping failures to the storage sentinels.
func (b *backend) do(ctx context.Context, op, method, key string, body io.Reader, hdr http.Header) (*http.Response, error) {
	if b.origin == "" {
		return nil, &storage.Error{Op: op, Key: key, Err: plugin.ErrNotConfigured}
	}
	if !storage.ValidKey(key) {
		return nil, &storage.Error{Op: op, Key: key, Err: storage.ErrInvalidKey}
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url(key), body)
	if err != nil {
		return nil, &storage.Error{Op: op, Key: key, Err: err}
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, &storage.Error{Op: op, Key: key, Err: err}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	resp.Body.Close()
	var why error
	switch resp.StatusCode {
	case http.StatusNotFound:
		why = storage.ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		why = storage.ErrPermission
	case http.StatusPreconditionFailed:
		why = storage.ErrExist
	default:
		why = fmt.Errorf("origin answered %s: %w", resp.Status, plugin.ErrUnavailable)
	}
	return nil, &storage.Error{Op: op, Key: key, Err: why}
}

func info(key string, resp *http.Response) storage.ObjectInfo {
	i := storage.ObjectInfo{Key: key, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type"), ETag: strings.Trim(resp.Header.Get("Etag"), `"`)}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		i.ModTime = t
	}
	return i
}

func (b *backend) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	if opts.Range != nil {
		return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: errors.ErrUnsupported}
	}
	resp, err := b.do(ctx, "get", http.MethodGet, key, nil, nil)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	return resp.Body, info(key, resp), nil
}

func (b *backend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	resp, err := b.do(ctx, "stat", http.MethodHead, key, nil, nil)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	resp.Body.Close()
	return info(key, resp), nil
}

// counter counts the bytes of a Put as they stream to the origin.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (b *backend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	hdr := http.Header{}
	if opts.ContentType != "" {
		hdr.Set("Content-Type", opts.ContentType)
	}
	if opts.IfAbsent {
		hdr.Set("If-None-Match", "*")
	}
	c := &counter{r: r}
	// io.NopCloser hides r's other methods, so the request streams it
	// with an unknown length.
	resp, err := b.do(ctx, "put", http.MethodPut, key, io.NopCloser(c), hdr)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	resp.Body.Close()
	return storage.ObjectInfo{Key: key, Size: c.n, ContentType: opts.ContentType, ETag: strings.Trim(resp.Header.Get("Etag"), `"`), ModTime: time.Now().UTC()}, nil
}

func (b *backend) Delete(ctx context.Context, key string) error {
	resp, err := b.do(ctx, "delete", http.MethodDelete, key, nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (b *backend) List(context.Context, storage.ListOptions) (storage.ListPage, error) {
	return storage.ListPage{}, &storage.Error{Op: "list", Err: errors.ErrUnsupported}
}

func init() { wasmguest.ServeStorage(&backend{client: wasmguest.HTTPClient()}) }

func main() {}

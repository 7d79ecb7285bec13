// Package fetch is the one seam where a file URL from a DDO becomes a stream:
// an Opener per URL scheme. HTTP(S) is built in, guarded against requests
// into the node's own network; storage backends (s3://, gs://, file://,
// cid://) plug in as further Openers.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// Errors an Opener returns, wrapped.
var (
	// ErrUnsupported: no Opener for the URL's scheme.
	ErrUnsupported = errors.New("fetch: unsupported URL")
	// ErrNotFound: the source says the object does not exist.
	ErrNotFound = errors.New("fetch: not found")
	// ErrForbidden: the URL points inside the node's network (loopback,
	// private, link-local), which is refused unless allowed.
	ErrForbidden = errors.New("fetch: address not allowed")
	// ErrUnavailable: the source could not be reached or failed.
	ErrUnavailable = errors.New("fetch: source unavailable")
)

// Object is an opened file. The caller closes Body.
type Object struct {
	Body io.ReadCloser
	// Size is the length of Body in bytes, -1 when unknown.
	Size int64
	// ContentType as the source reports it, "" when unknown.
	ContentType string
	// Name is a file name suggested by the source or the URL, "" when none.
	Name string
}

// Opener opens URLs of the schemes it serves.
type Opener interface {
	Open(ctx context.Context, rawURL string) (*Object, error)
}

// Mux picks an Opener by URL scheme.
type Mux map[string]Opener

// Open implements Opener.
func (m Mux) Open(ctx context.Context, rawURL string) (*Object, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: not an absolute URL", ErrUnsupported)
	}
	o, ok := m[strings.ToLower(u.Scheme)]
	if !ok {
		return nil, fmt.Errorf("%w: no backend serves %s:// URLs", ErrUnsupported, u.Scheme)
	}
	return o.Open(ctx, rawURL)
}

// HTTPOptions configure an HTTP Opener.
type HTTPOptions struct {
	// AllowPrivate lets URLs reach loopback, private and link-local
	// addresses. Off by default: a publisher's URL must not be a way to
	// read the node's internal services.
	AllowPrivate bool
	// HeaderTimeout bounds the wait for the response headers; the body
	// streams for as long as it takes. Zero means 30 s.
	HeaderTimeout time.Duration
}

// HTTP opens http and https URLs as streams.
type HTTP struct{ client *http.Client }

// NewHTTP returns an HTTP Opener.
func NewHTTP(opts HTTPOptions) *HTTP {
	if opts.HeaderTimeout <= 0 {
		opts.HeaderTimeout = 30 * time.Second
	}
	return &HTTP{client: &http.Client{
		Transport: NewTransport(opts.AllowPrivate, opts.HeaderTimeout),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to a %s URL", req.URL.Scheme)
			}
			return nil
		},
	}}
}

// NewTransport is an HTTP transport that, unless allowPrivate, refuses to
// connect to loopback, private, link-local and other non-public addresses.
// The check runs on the address actually dialled, after DNS and on every
// redirect, so neither a host name nor a redirect can lead inside.
func NewTransport(allowPrivate bool, headerTimeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if ip := ap.Addr().Unmap(); !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
				return fmt.Errorf("%w: %s is not a public address", ErrForbidden, ip)
			}
			return nil
		}
		// Through a proxy the dial check would see the proxy, not the target.
		proxy = nil
	}
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
	}
}

// Open implements Opener with a GET whose body is handed over unread.
func (h *HTTP) Open(ctx context.Context, rawURL string) (*Object, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: not an http(s) URL", ErrUnsupported)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			return nil, fmt.Errorf("%w: %s", ErrForbidden, u.Host)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, u.Host, stripURL(err))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answered %d", ErrNotFound, u.Host, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s answered %d", ErrUnavailable, u.Host, resp.StatusCode)
	}
	obj := &Object{Body: resp.Body, Size: resp.ContentLength, ContentType: resp.Header.Get("Content-Type")}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		obj.Name = path.Base(params["filename"])
	} else if base := path.Base(resp.Request.URL.Path); base != "/" && base != "." {
		obj.Name = base
	}
	return obj, nil
}

// stripURL drops the URL from a client error: it may carry credentials in
// its query string, and the caller names the host already.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

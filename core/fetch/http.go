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
	"strconv"
	"strings"
	"syscall"
	"time"
)

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

// HTTP opens http and https URLs as streams. A range is asked of the origin
// with a Range header; an origin that ignores it (answers 200) is read from
// the start and the bytes before the range are skipped, unless the origin
// gives no length, in which case the whole object is returned (Ranged false).
type HTTP struct{ client *http.Client }

// NewHTTP returns an HTTP Opener.
func NewHTTP(opts HTTPOptions) *HTTP {
	return &HTTP{client: newClient(opts)}
}

func newClient(opts HTTPOptions) *http.Client {
	if opts.HeaderTimeout <= 0 {
		opts.HeaderTimeout = 30 * time.Second
	}
	return &http.Client{
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
	}
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
		// The body is streamed on as it is; a gzip layer would hide the
		// origin's length and break byte ranges.
		DisableCompression: true,
	}
}

// Open implements Opener with a GET whose body is handed over unread.
func (h *HTTP) Open(ctx context.Context, req Request) (*Object, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: not an http(s) URL", ErrUnsupported)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return do(h.client, hr, u.Host, req.Range)
}

// do sends hr, asking for rng, and turns the answer into an Object. host
// names the source in errors (never the URL: it may carry credentials).
func do(client *http.Client, hr *http.Request, host string, rng *Range) (*Object, error) {
	if rng != nil {
		hr.Header.Set("Range", rng.Header())
	}
	resp, err := client.Do(hr)
	if err != nil {
		if errors.Is(err, ErrForbidden) {
			return nil, fmt.Errorf("%w: %s", ErrForbidden, host)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, host, stripURL(err))
	}
	obj := &Object{Body: resp.Body, Size: -1, Length: -1, ContentType: resp.Header.Get("Content-Type"), ETag: resp.Header.Get("ETag")}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		obj.ModTime = t.UTC()
	}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		obj.Name = path.Base(params["filename"])
	} else if base := path.Base(resp.Request.URL.Path); base != "/" && base != "." {
		obj.Name = base
	}
	fail := func(err error) (*Object, error) {
		resp.Body.Close()
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return fail(fmt.Errorf("%w: %s answered %d", ErrNotFound, host, resp.StatusCode))
	case http.StatusRequestedRangeNotSatisfiable:
		size := int64(-1)
		if rest, ok := strings.CutPrefix(resp.Header.Get("Content-Range"), "bytes */"); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n >= 0 {
				size = n
			}
		}
		return fail(&RangeError{Size: size})
	case http.StatusPartialContent:
		if rng == nil {
			return fail(fmt.Errorf("%w: %s answered 206 to a request without a range", ErrUnavailable, host))
		}
		first, last, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		want := rng.Offset
		if rng.Suffix > 0 && size >= 0 {
			want = size - min(rng.Suffix, size)
		}
		if !ok || (first != want && !(rng.Suffix > 0 && size < 0)) || (rng.Length > 0 && last-first+1 > rng.Length) {
			return fail(fmt.Errorf("%w: %s answered another byte range than asked (%q)", ErrUnavailable, host, resp.Header.Get("Content-Range")))
		}
		obj.Size, obj.Offset, obj.Length, obj.Ranged = size, first, last-first+1, true
		obj.Body = limitBody(resp.Body, obj.Length)
		return obj, nil
	case http.StatusOK:
		obj.Size, obj.Length = resp.ContentLength, resp.ContentLength
		if rng == nil || obj.Size < 0 {
			return obj, nil
		}
		// The origin ignored the range: read up to it.
		off, n, err := rng.Resolve(obj.Size)
		if err != nil {
			return fail(err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			return fail(fmt.Errorf("%w: %s: skipping to the range: %w", ErrUnavailable, host, err))
		}
		obj.Offset, obj.Length, obj.Ranged = off, n, true
		obj.Body = limitBody(resp.Body, n)
		return obj, nil
	default:
		return fail(fmt.Errorf("%w: %s answered %d", ErrUnavailable, host, resp.StatusCode))
	}
}

// parseContentRange parses "bytes first-last/size" (size may be "*": -1).
func parseContentRange(v string) (first, last, size int64, ok bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, 0, false
	}
	span, total, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, false
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, 0, false
	}
	var err1, err2 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, 0, false
	}
	size = -1
	if total != "*" {
		n, err := strconv.ParseInt(total, 10, 64)
		if err != nil || n <= last {
			return 0, 0, 0, false
		}
		size = n
	}
	return first, last, size, true
}

// limitBody yields at most n bytes of rc and closes rc.
func limitBody(rc io.ReadCloser, n int64) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, n), rc}
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

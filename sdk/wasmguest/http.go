package wasmguest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
)

// HTTPClient returns an http.Client whose requests the node sends for the
// module, to the hosts granted in grants.hosts of plugins.yaml and no
// others (see Transport). Outside a wasip1 module its requests fail with
// errors.ErrUnsupported.
func HTTPClient() *http.Client { return &http.Client{Transport: Transport{}} }

// Transport is an http.RoundTripper that has the node perform the
// request. The node follows redirects itself, checking each target
// against the grants; a host that is not granted fails the request with
// an error wrapping storage.ErrPermission that names it. Request and
// response bodies stream in pieces: the response body is copied into the
// module's memory only as it is read, so a module can relay objects of
// any size. A plugin may keep at most 16 responses open at once (the 17th
// request fails with plugin.ErrUnavailable): close every body.
//
// The node performs at most one call into a module at a time and the
// module waits while its request is on the network: the request is bounded
// by the node call it runs in (the caller's context, or
// limits.call_timeout), not by the request's own context, which is only
// checked between steps.
type Transport struct {
	host httpHost // nil: the node's nvm_http imports; tests set a fake
}

// httpHost is the node's side of the exchange: the imports of nvm_http
// inside a wasip1 module.
type httpHost interface {
	request(req, out []byte) uint64
	write(h uint32, p, out []byte) uint64
	response(h uint32, out []byte) uint64
	read(h uint32, p, out []byte) uint64
	close(h uint32)
}

// errNoNode fails requests made outside a module.
var errNoNode = fmt.Errorf("wasmguest.Transport works inside a wasip1 module run by the node: %w", errors.ErrUnsupported)

// httpErr decodes a failed host function's result.
func httpErr(res uint64, out []byte) error {
	_, n := wasmabi.SplitHTTPResult(res)
	if n == 0 || int(n) > len(out) {
		return errors.New("http request failed in the node")
	}
	return wasmabi.DecodeError("node http", out[:n])
}

// chunk is the piece size of request bodies.
const chunk = 256 << 10

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := t.host
	if host == nil {
		host = nodeHTTP()
	}
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if host == nil {
		closeBody()
		return nil, errNoNode
	}
	if err := req.Context().Err(); err != nil {
		closeBody()
		return nil, err
	}
	r := wasmabi.HTTPRequest{Method: req.Method, URL: req.URL.String(), ContentLength: -1}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if req.Host != "" && req.Host != req.URL.Host {
		r.Header = append(r.Header, wasmabi.HTTPHeader{Name: "Host", Value: req.Host})
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header = append(r.Header, wasmabi.HTTPHeader{Name: k, Value: v})
		}
	}
	if req.Body != nil && req.Body != http.NoBody {
		r.HasBody = true
		if req.ContentLength > 0 {
			r.ContentLength = req.ContentLength
		}
	}
	enc := wasmabi.AppendHTTPRequest(nil, r)
	out := make([]byte, wasmabi.HTTPErrorBuffer)
	res := host.request(enc, out)
	st, h := wasmabi.SplitHTTPResult(res)
	if st != wasmabi.HTTPOK {
		closeBody()
		return nil, httpErr(res, out)
	}
	fail := func(err error) (*http.Response, error) {
		closeBody()
		host.close(h)
		return nil, err
	}
	if r.HasBody {
		buf := make([]byte, chunk)
		for {
			n, rerr := req.Body.Read(buf)
			if n > 0 {
				if res := host.write(h, buf[:n], out); res>>32 != uint64(wasmabi.HTTPOK) {
					return fail(httpErr(res, out))
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fail(fmt.Errorf("reading the request body: %w", rerr))
			}
		}
		req.Body.Close()
	}
	// Headers are at most 64KiB; the host says so if they need more.
	out = make([]byte, wasmabi.MaxHTTPHeaderBytes+wasmabi.HTTPErrorBuffer)
	for {
		res = host.response(h, out)
		st, n := wasmabi.SplitHTTPResult(res)
		if st == wasmabi.HTTPShort && int(n) > len(out) {
			out = make([]byte, n)
			continue
		}
		if st != wasmabi.HTTPOK {
			return fail(httpErr(res, out))
		}
		head, err := wasmabi.DecodeHTTPHead(out[:n])
		if err != nil {
			return fail(fmt.Errorf("undecodable response head from the node: %w", err))
		}
		resp := &http.Response{
			StatusCode: head.StatusCode, Status: strconv.Itoa(head.StatusCode) + " " + http.StatusText(head.StatusCode),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, ContentLength: head.ContentLength, Request: req,
			Body: &httpBody{host: host, h: h, out: make([]byte, wasmabi.HTTPErrorBuffer)},
		}
		for _, f := range head.Header {
			resp.Header.Add(f.Name, f.Value)
		}
		return resp, nil
	}
}

// httpBody reads a response body through its handle.
type httpBody struct {
	host   httpHost
	h      uint32
	out    []byte
	mu     sync.Mutex
	err    error
	closed bool
}

func (b *httpBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return 0, errors.New("read on a closed response body")
	case b.err != nil:
		return 0, b.err
	case len(p) == 0:
		return 0, nil
	}
	res := b.host.read(b.h, p, b.out)
	switch st, n := wasmabi.SplitHTTPResult(res); st {
	case wasmabi.HTTPOK:
		return int(n), nil
	case wasmabi.HTTPEOF:
		b.err = io.EOF
	default:
		b.err = httpErr(res, b.out)
	}
	return 0, b.err
}

func (b *httpBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.host.close(b.h)
	}
	return nil
}

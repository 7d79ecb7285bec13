package wasmguest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// fakeNode plays the node's nvm_http functions in memory: it answers
// every request with status 200 and body, after recording the request.
type fakeNode struct {
	t       *testing.T
	req     wasmabi.HTTPRequest
	sent    bytes.Buffer
	writes  int
	body    []byte
	deny    error // when set, request fails with it
	closed  int
	maxRead int
}

func (f *fakeNode) fail(out []byte, err error) uint64 {
	b := wasmabi.EncodeError(err)
	return wasmabi.HTTPResult(wasmabi.HTTPError, uint32(copy(out, b)))
}

func (f *fakeNode) request(req, out []byte) uint64 {
	if f.deny != nil {
		return f.fail(out, f.deny)
	}
	r, err := wasmabi.DecodeHTTPRequest(req)
	if err != nil {
		f.t.Fatalf("the guest sent an undecodable request: %v", err)
	}
	f.req = r
	return wasmabi.HTTPResult(wasmabi.HTTPOK, 7)
}

func (f *fakeNode) write(h uint32, p, out []byte) uint64 {
	if h != 7 {
		return f.fail(out, fmt.Errorf("bad handle %d", h))
	}
	f.writes++
	f.sent.Write(p)
	return wasmabi.HTTPResult(wasmabi.HTTPOK, uint32(len(p)))
}

func (f *fakeNode) response(h uint32, out []byte) uint64 {
	head := wasmabi.AppendHTTPHead(nil, wasmabi.HTTPHead{StatusCode: 200, Header: []wasmabi.HTTPHeader{{Name: "X-A", Value: "1"}, {Name: "X-A", Value: "2"}}, ContentLength: int64(len(f.body))})
	return wasmabi.HTTPResult(wasmabi.HTTPOK, uint32(copy(out, head)))
}

func (f *fakeNode) read(h uint32, p, out []byte) uint64 {
	if len(f.body) == 0 {
		return wasmabi.HTTPResult(wasmabi.HTTPEOF, 0)
	}
	n := copy(p[:min(len(p), f.maxRead)], f.body)
	f.body = f.body[n:]
	return wasmabi.HTTPResult(wasmabi.HTTPOK, uint32(n))
}

func (f *fakeNode) close(h uint32) { f.closed++ }

func TestTransportRoundTrip(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789"), 100000)
	f := &fakeNode{t: t, body: append([]byte(nil), want...), maxRead: 1000}
	c := &http.Client{Transport: Transport{host: f}}
	sent := strings.Repeat("x", 3*chunk+5)
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:9000/a?b=c", io.NopCloser(strings.NewReader(sent)))
	req.Header.Set("X-Req", "v")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if f.req.Method != "PUT" || f.req.URL != "http://127.0.0.1:9000/a?b=c" || !f.req.HasBody || f.req.ContentLength != -1 {
		t.Errorf("the node got %+v", f.req)
	}
	if f.sent.String() != sent || f.writes != 4 {
		t.Errorf("the body went in %d writes of %d bytes in all, want 4 and %d", f.writes, f.sent.Len(), len(sent))
	}
	if got := resp.Header.Values("X-A"); resp.StatusCode != 200 || len(got) != 2 || resp.ContentLength != int64(len(want)) {
		t.Errorf("response %d %v %d", resp.StatusCode, resp.Header, resp.ContentLength)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(want))
	}
	resp.Body.Close()
	resp.Body.Close()
	if f.closed != 1 {
		t.Errorf("the handle was closed %d times, want once", f.closed)
	}
}

func TestTransportRefused(t *testing.T) {
	f := &fakeNode{t: t, deny: fmt.Errorf("host a.org:443 is not granted: %w", storage.ErrPermission)}
	_, err := (&http.Client{Transport: Transport{host: f}}).Get("https://a.org/")
	if !errors.Is(err, storage.ErrPermission) || !strings.Contains(err.Error(), "a.org:443 is not granted") {
		t.Errorf("refused request: %v, want ErrPermission with the node's message", err)
	}
}

func TestTransportOutsideModule(t *testing.T) {
	if _, err := HTTPClient().Get("http://127.0.0.1:1/"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("outside a module: %v, want ErrUnsupported", err)
	}
}

package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// MaxHTTPHandles is how many HTTP exchanges one module instance may have
// open at once; the next request fails with plugin.ErrUnavailable until
// one is closed.
const MaxHTTPHandles = 16

// Net gives a plugin's module instances outbound HTTP(S) to the hosts in
// its grants, through the host module wasmabi.HTTPModule ("nvm_http").
// With no grants the module is still there and refuses every request, so
// a module using wasmguest.HTTPClient loads and its requests fail with
// storage.ErrPermission.
//
// Each exchange is a handle: the request body streams in, the response
// body streams out, copied into guest memory only as the guest reads it.
// A host function blocked on the network is aborted when the context of
// the guest's current call ends (its caller's context or CallTimeout);
// closing an instance aborts its open exchanges.
type Net struct {
	id     string
	grants HostGrants
	tr     *http.Transport
	client *http.Client

	mu    sync.Mutex
	insts map[api.Module]*netInstance
}

// NewNet returns the network of plugin id, allowed to reach grants (see
// HostGrants for their form).
func NewNet(id string, grants []string) (*Net, error) {
	g, err := ParseHostGrants(grants)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", id, err)
	}
	n := &Net{id: id, grants: g, insts: map[api.Module]*netInstance{}}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	n.tr = &http.Transport{
		Proxy: nil, // a proxy would be a host nobody granted
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The last line of defence: whatever asks, only granted
			// addresses are dialled.
			if !n.grants.allowsAddr(addr) {
				return nil, n.denied(addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: wasmabi.MaxHTTPHeaderBytes,
		DisableCompression:     true, // the module sees the bytes the server sent
	}
	n.client = &http.Client{
		Transport: n.tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return n.check(req.URL)
		},
	}
	return n, nil
}

func (n *Net) denied(host string) error {
	if n.grants.Empty() {
		return fmt.Errorf("plugin %s: host %s is not granted: the plugin has no grants.hosts in plugins.yaml: %w", n.id, host, storage.ErrPermission)
	}
	return fmt.Errorf("plugin %s: host %s is not granted (grants.hosts in plugins.yaml allows %s): %w", n.id, host, n.grants, storage.ErrPermission)
}

// check refuses a URL whose scheme is not http(s) or whose host is not
// granted.
func (n *Net) check(u *url.URL) error {
	var port uint16
	switch u.Scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return fmt.Errorf("plugin %s: URL scheme %q: only http and https are supported: %w", n.id, u.Scheme, errors.ErrUnsupported)
	}
	if p := u.Port(); p != "" {
		v, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return fmt.Errorf("plugin %s: bad port in %s: %w", n.id, u.Host, storage.ErrInvalidKey)
		}
		port = uint16(v)
	}
	if !n.grants.allows(u.Hostname(), port) {
		return n.denied(net.JoinHostPort(u.Hostname(), strconv.Itoa(int(port))))
	}
	return nil
}

// Instantiate registers the host module in rt; call it once, before the
// plugin's module is instantiated.
func (n *Net) Instantiate(ctx context.Context, rt wazero.Runtime) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b := rt.NewHostModuleBuilder(wasmabi.HTTPModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(n.hostRequest), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64}).Export(wasmabi.HTTPFuncRequest)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(n.hostWrite), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(wasmabi.HTTPFuncWrite)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(n.hostResponse), []api.ValueType{i32, i32, i32}, []api.ValueType{i64}).Export(wasmabi.HTTPFuncResponse)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(n.hostRead), []api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i64}).Export(wasmabi.HTTPFuncRead)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(n.hostClose), []api.ValueType{i32}, nil).Export(wasmabi.HTTPFuncClose)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("plugin %s: the %s host module: %w", n.id, wasmabi.HTTPModule, err)
	}
	return nil
}

// Wrap returns instantiate with the bookkeeping of each instance's
// exchanges: they are aborted when the instance closes, whatever closes
// it.
func (n *Net) Wrap(instantiate func(context.Context) (api.Module, error)) func(context.Context) (api.Module, error) {
	return func(ctx context.Context) (api.Module, error) {
		ni := &netInstance{handles: map[uint32]*exchange{}}
		mod, err := instantiate(experimental.WithCloseNotifier(ctx, experimental.CloseNotifyFunc(func(context.Context, uint32) {
			n.release(ni)
		})))
		if err != nil {
			n.release(ni)
			return nil, err
		}
		n.mu.Lock()
		if !ni.closed {
			ni.mod = mod
			n.insts[mod] = ni
		}
		n.mu.Unlock()
		return mod, nil
	}
}

// release aborts an instance's exchanges and forgets it.
func (n *Net) release(ni *netInstance) {
	n.mu.Lock()
	ni.closed = true
	if ni.mod != nil {
		delete(n.insts, ni.mod)
	}
	hs := ni.handles
	ni.handles = map[uint32]*exchange{}
	n.mu.Unlock()
	for _, x := range hs {
		x.close()
	}
}

// Close closes the idle connections; call it after the runtime is closed.
func (n *Net) Close() { n.tr.CloseIdleConnections() }

// Open reports how many exchanges are open over all instances, for tests
// and stats.
func (n *Net) Open() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, ni := range n.insts {
		c += len(ni.handles)
	}
	return c
}

// netInstance is the exchanges of one module instance.
type netInstance struct {
	mod     api.Module
	handles map[uint32]*exchange
	next    uint32
	closed  bool
}

// exchange is one request and its response.
type exchange struct {
	cancel context.CancelFunc
	body   *io.PipeWriter // nil without a request body
	done   chan struct{}  // closed when the round trip returned
	resp   *http.Response
	err    error
	head   []byte // encoded head, once the response is in
	eof    bool
}

func (x *exchange) close() {
	x.cancel()
	if x.body != nil {
		x.body.CloseWithError(errors.New("request aborted"))
	}
	<-x.done // the round trip returns promptly once cancelled
	if x.resp != nil {
		x.resp.Body.Close()
	}
}

func (n *Net) instance(mod api.Module) *netInstance {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.insts[mod]
}

func (n *Net) lookup(mod api.Module, h uint32) (*exchange, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ni := n.insts[mod]; ni != nil {
		if x := ni.handles[h]; x != nil {
			return x, nil
		}
	}
	return nil, fmt.Errorf("plugin %s: unknown http handle %d: %w", n.id, h, plugin.ErrInternal)
}

// fail writes err into the guest's out buffer, shortened to fit.
func (n *Net) fail(mod api.Module, out, outCap uint32, err error) uint64 {
	b := wasmabi.EncodeError(err)
	if uint32(len(b)) > outCap {
		msg := err.Error()
		for len(b) > int(outCap) && len(msg) > 0 {
			msg = msg[:len(msg)/2]
			b = wasmabi.EncodeError(&shortened{msg: msg, err: err})
		}
		if uint32(len(b)) > outCap {
			return wasmabi.HTTPResult(wasmabi.HTTPError, 0)
		}
	}
	if !mod.Memory().Write(out, b) {
		return wasmabi.HTTPResult(wasmabi.HTTPError, 0)
	}
	return wasmabi.HTTPResult(wasmabi.HTTPError, uint32(len(b)))
}

// shortened keeps the sentinels of an error whose text was cut.
type shortened struct {
	msg string
	err error
}

func (s *shortened) Error() string { return s.msg + "..." }
func (s *shortened) Unwrap() error { return s.err }

// during runs f, aborting the exchange if the call's context ends first.
func during(ctx context.Context, x *exchange, f func()) error {
	stop := context.AfterFunc(ctx, func() {
		x.cancel()
		if x.body != nil {
			x.body.CloseWithError(ctx.Err())
		}
	})
	f()
	if !stop() {
		return ctx.Err()
	}
	return nil
}

func (n *Net) hostRequest(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, size, out, outCap := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	fail := func(err error) { stack[0] = n.fail(mod, out, outCap, err) }
	if size > wasmabi.MaxHTTPRequest {
		fail(fmt.Errorf("plugin %s: http request over %d bytes: %w", n.id, wasmabi.MaxHTTPRequest, plugin.ErrInternal))
		return
	}
	raw, ok := mod.Memory().Read(ptr, size)
	if !ok {
		fail(fmt.Errorf("plugin %s: http request outside the module's memory: %w", n.id, plugin.ErrInternal))
		return
	}
	r, err := wasmabi.DecodeHTTPRequest(raw)
	if err != nil {
		fail(fmt.Errorf("plugin %s: bad http request: %v: %w", n.id, err, plugin.ErrInternal))
		return
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		fail(fmt.Errorf("plugin %s: unparsable request URL: %w", n.id, storage.ErrInvalidKey))
		return
	}
	if err := n.check(u); err != nil {
		fail(err)
		return
	}
	ni := n.instance(mod)
	if ni == nil {
		fail(fmt.Errorf("plugin %s: the instance is closing: %w", n.id, plugin.ErrUnavailable))
		return
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var body io.Reader
	x := &exchange{cancel: cancel, done: make(chan struct{})}
	if r.HasBody {
		pr, pw := io.Pipe()
		body, x.body = pr, pw
	}
	req, err := http.NewRequestWithContext(rctx, r.Method, u.String(), body)
	if err != nil {
		cancel()
		fail(fmt.Errorf("plugin %s: %w: %w", n.id, err, storage.ErrInvalidKey))
		return
	}
	for _, h := range r.Header {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if r.HasBody {
		req.ContentLength = r.ContentLength
		if r.ContentLength == 0 {
			req.ContentLength = -1 // unknown, since the body exists
		}
	}
	n.mu.Lock()
	if ni.closed || len(ni.handles) >= MaxHTTPHandles {
		closed := ni.closed
		n.mu.Unlock()
		cancel()
		if closed {
			fail(fmt.Errorf("plugin %s: the instance is closing: %w", n.id, plugin.ErrUnavailable))
		} else {
			fail(fmt.Errorf("plugin %s: %d http responses already open (close their bodies): %w", n.id, MaxHTTPHandles, plugin.ErrUnavailable))
		}
		return
	}
	ni.next++
	if ni.next == 0 {
		ni.next = 1
	}
	h := ni.next
	ni.handles[h] = x
	n.mu.Unlock()
	go func() {
		defer close(x.done)
		x.resp, x.err = n.client.Do(req)
	}()
	stack[0] = wasmabi.HTTPResult(wasmabi.HTTPOK, h)
}

func (n *Net) hostWrite(ctx context.Context, mod api.Module, stack []uint64) {
	h, ptr, size, out, outCap := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	x, err := n.lookup(mod, h)
	if err == nil && x.body == nil {
		err = fmt.Errorf("plugin %s: write to an http request without a body: %w", n.id, plugin.ErrInternal)
	}
	if err != nil {
		stack[0] = n.fail(mod, out, outCap, err)
		return
	}
	p, ok := mod.Memory().Read(ptr, size)
	if !ok {
		stack[0] = n.fail(mod, out, outCap, fmt.Errorf("plugin %s: write outside the module's memory: %w", n.id, plugin.ErrInternal))
		return
	}
	var werr error
	// io.Pipe hands p to the transport and returns once it is consumed,
	// so the view of guest memory is not used after the call.
	if cerr := during(ctx, x, func() { _, werr = x.body.Write(p) }); cerr != nil {
		werr = cerr
	}
	if werr != nil {
		// The transport closes the body when the exchange fails: its
		// error says why better than the closed pipe does. It comes
		// promptly, and the call's context still bounds the wait.
		if during(ctx, x, func() { <-x.done }) == nil && x.err != nil {
			werr = x.err
		}
		stack[0] = n.fail(mod, out, outCap, n.netErr("sending the request body", werr))
		return
	}
	stack[0] = wasmabi.HTTPResult(wasmabi.HTTPOK, size)
}

// netErr wraps a failure of the exchange, keeping a permission refusal
// from the dialler or a redirect.
func (n *Net) netErr(what string, err error) error {
	// A URL's query may carry a signature or a token: errors name only
	// its host.
	var ue *url.Error
	if errors.As(err, &ue) {
		host := "?"
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
		err = fmt.Errorf("%s %s: %w", ue.Op, host, ue.Err)
	}
	if errors.Is(err, storage.ErrPermission) || errors.Is(err, errors.ErrUnsupported) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("plugin %s: %s: %w: %w", n.id, what, err, plugin.ErrUnavailable)
}

func (n *Net) hostResponse(ctx context.Context, mod api.Module, stack []uint64) {
	h, out, outCap := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	x, err := n.lookup(mod, h)
	if err != nil {
		stack[0] = n.fail(mod, out, outCap, err)
		return
	}
	if x.head == nil {
		if x.body != nil {
			x.body.Close() // the body is complete
		}
		if cerr := during(ctx, x, func() { <-x.done }); cerr != nil {
			stack[0] = n.fail(mod, out, outCap, n.netErr("waiting for the response", cerr))
			return
		}
		if x.err != nil {
			stack[0] = n.fail(mod, out, outCap, n.netErr("http request", x.err))
			return
		}
		head := wasmabi.HTTPHead{StatusCode: x.resp.StatusCode, ContentLength: x.resp.ContentLength}
		for k, vs := range x.resp.Header {
			for _, v := range vs {
				head.Header = append(head.Header, wasmabi.HTTPHeader{Name: k, Value: v})
			}
		}
		x.head = wasmabi.AppendHTTPHead(nil, head)
	}
	if uint32(len(x.head)) > outCap {
		stack[0] = wasmabi.HTTPResult(wasmabi.HTTPShort, uint32(len(x.head)))
		return
	}
	if !mod.Memory().Write(out, x.head) {
		stack[0] = n.fail(mod, out, outCap, fmt.Errorf("plugin %s: response buffer outside the module's memory: %w", n.id, plugin.ErrInternal))
		return
	}
	stack[0] = wasmabi.HTTPResult(wasmabi.HTTPOK, uint32(len(x.head)))
}

func (n *Net) hostRead(ctx context.Context, mod api.Module, stack []uint64) {
	h, ptr, size, out, outCap := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	x, err := n.lookup(mod, h)
	if err == nil && x.resp == nil {
		err = fmt.Errorf("plugin %s: read before the response: %w", n.id, plugin.ErrInternal)
	}
	if err != nil {
		stack[0] = n.fail(mod, out, outCap, err)
		return
	}
	if x.eof {
		stack[0] = wasmabi.HTTPResult(wasmabi.HTTPEOF, 0)
		return
	}
	// The body is read straight into the guest's buffer: host memory
	// stays flat whatever the body's size.
	p, ok := mod.Memory().Read(ptr, min(size, wasmabi.MaxHTTPRead))
	if !ok {
		stack[0] = n.fail(mod, out, outCap, fmt.Errorf("plugin %s: read outside the module's memory: %w", n.id, plugin.ErrInternal))
		return
	}
	var c int
	var rerr error
	cerr := during(ctx, x, func() {
		for c == 0 && rerr == nil && len(p) > 0 {
			c, rerr = x.resp.Body.Read(p)
		}
	})
	switch {
	case c > 0:
		if rerr == io.EOF {
			x.eof = true
		}
		stack[0] = wasmabi.HTTPResult(wasmabi.HTTPOK, uint32(c))
	case cerr != nil:
		stack[0] = n.fail(mod, out, outCap, n.netErr("reading the response body", cerr))
	case rerr == io.EOF:
		x.eof = true
		stack[0] = wasmabi.HTTPResult(wasmabi.HTTPEOF, 0)
	case rerr != nil:
		stack[0] = n.fail(mod, out, outCap, n.netErr("reading the response body", rerr))
	default:
		stack[0] = wasmabi.HTTPResult(wasmabi.HTTPOK, 0)
	}
}

func (n *Net) hostClose(_ context.Context, mod api.Module, stack []uint64) {
	h := api.DecodeU32(stack[0])
	n.mu.Lock()
	var x *exchange
	if ni := n.insts[mod]; ni != nil {
		x = ni.handles[h]
		delete(ni.handles, h)
	}
	n.mu.Unlock()
	if x != nil {
		x.close()
	}
}

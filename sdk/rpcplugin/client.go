package rpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/grpc"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/internal/pbconv"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wireerr"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// The client side runs in the node and implements the SDK interfaces by
// calling the plugin. Every error is decoded with wireerr, naming the
// plugin when the transport itself failed.

type lifecycleClient struct {
	who string // plugin id for messages
	// info is fetched at connection and again after a successful
	// Configure: capabilities may depend on the configuration.
	info atomic.Pointer[plugin.Info]
	lc   pb.LifecycleClient
	// closed short-cuts calls after Close, when the process may be gone
	// and the transport would only report a closing connection.
	closed atomic.Bool
	// onClose runs after the remote Close, e.g. to stop the process.
	onClose   func()
	closeOnce sync.Once
}

func (c *lifecycleClient) err(err error) error { return wireerr.FromStatus(c.who, err) }

// Info returns the Info fetched when the connection was made, or after the
// last successful Configure; this way it works after Close too.
func (c *lifecycleClient) Info(context.Context) (plugin.Info, error) { return *c.info.Load(), nil }

func (c *lifecycleClient) fetchInfo(ctx context.Context) (plugin.Info, error) {
	r, err := c.lc.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return plugin.Info{}, c.err(err)
	}
	return fromInfo(r), nil
}

// usable returns the error for a call on a closed client, if any.
func (c *lifecycleClient) usable() error {
	if c.closed.Load() {
		return fmt.Errorf("plugin %s: %w", c.who, plugin.ErrClosed)
	}
	return nil
}

// storageCheck refuses calls on a closed client, and keys gRPC cannot
// carry (protobuf strings are UTF-8), before any round trip.
func (c *lifecycleClient) storageCheck(op, key string) error {
	if err := c.usable(); err != nil {
		return &storage.Error{Op: op, Key: key, Err: err}
	}
	if !utf8.ValidString(key) {
		return &storage.Error{Op: op, Key: key, Err: storage.ErrInvalidKey}
	}
	return nil
}

func (c *lifecycleClient) computeCheck(op string, id compute.JobID) error {
	if err := c.usable(); err != nil {
		return &compute.Error{Op: op, Job: id, Err: err}
	}
	if !utf8.ValidString(string(id)) {
		return &compute.Error{Op: op, Job: id, Err: compute.ErrJobNotFound}
	}
	return nil
}

func (c *lifecycleClient) Configure(ctx context.Context, cfg plugin.Config) error {
	if err := c.usable(); err != nil {
		return err
	}
	if _, err := c.lc.Configure(ctx, &pb.ConfigureRequest{Config: cfg}); err != nil {
		return c.err(err)
	}
	// A configured backend may declare more (e.g. presigning once it has
	// a signing key); its kind, name and API version must not change.
	info, err := c.fetchInfo(ctx)
	if err != nil {
		return fmt.Errorf("plugin %s: info after configure: %w", c.who, err)
	}
	if old := c.info.Load(); info.ID() != old.ID() || info.APIVersion != old.APIVersion {
		return fmt.Errorf("plugin %s: Configure changed its identity to %s (API %d): %w", c.who, info.ID(), info.APIVersion, plugin.ErrInternal)
	}
	c.info.Store(&info)
	return nil
}

// Close closes the remote backend and then, once, runs onClose. A failed
// remote Close still runs onClose, so a sick plugin process is not left
// behind.
func (c *lifecycleClient) Close(ctx context.Context) error {
	if c.closed.Swap(true) {
		return nil
	}
	_, err := c.lc.Close(ctx, &pb.CloseRequest{})
	err = c.err(err)
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	// A plugin already gone is closed as far as the caller is concerned.
	if errors.Is(err, plugin.ErrUnavailable) {
		return nil
	}
	return err
}

// openStream starts a server stream whose life is not bound to ctx (a
// reader outlives the call that returned it) but whose first message is:
// if ctx ends before it arrives, the stream is cancelled.
func openStream[M any](ctx context.Context, start func(context.Context) (interface{ Recv() (M, error) }, error)) (M, func() (M, error), context.CancelFunc, error) {
	var zero M
	if err := ctx.Err(); err != nil {
		return zero, nil, nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	s, err := start(sctx)
	if err != nil {
		stop()
		cancel()
		return zero, nil, nil, err
	}
	first, err := s.Recv()
	if !stop() {
		cancel()
		return zero, nil, nil, ctx.Err()
	}
	if err != nil {
		cancel()
		return zero, nil, nil, err
	}
	return first, s.Recv, cancel, nil
}

var errStreamClosed = errors.New("read on closed plugin stream")

// streamReader reassembles a chunk stream into an io.ReadCloser.
type streamReader[M any] struct {
	recv   func() (M, error)
	chunk  func(M) ([]byte, bool)
	cancel context.CancelFunc
	who    string

	mu     sync.Mutex
	buf    []byte
	err    error
	closed bool
}

func (r *streamReader[M]) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.buf) == 0 {
		switch {
		case r.closed:
			return 0, errStreamClosed
		case r.err != nil:
			return 0, r.err
		}
		m, err := r.recv()
		if err == io.EOF {
			r.err = io.EOF
			continue
		}
		if err != nil {
			r.err = wireerr.FromStatus(r.who, err)
			continue
		}
		b, ok := r.chunk(m)
		if !ok {
			r.err = fmt.Errorf("plugin %s: unexpected message in a data stream: %w", r.who, plugin.ErrInternal)
			continue
		}
		r.buf = b
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close cancels the stream. It does not take the lock, so it can release
// a Read blocked waiting for the next chunk.
func (r *streamReader[M]) Close() error {
	r.cancel()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

type storageClient struct {
	*lifecycleClient
	c   pb.StorageClient
	fds *fdChannel // nil without a descriptor channel
}

var _ storage.Backend = (*storageClient)(nil)

func (c *storageClient) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := c.storageCheck("get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	req := &pb.GetRequest{Key: key}
	if opts.Range != nil {
		req.Range = &pb.Range{Offset: opts.Range.Offset, Length: opts.Range.Length}
	}
	var ch chan int
	if c.fds != nil {
		req.DescriptorId, ch = c.fds.register()
	}
	fail := func(err error) (io.ReadCloser, storage.ObjectInfo, error) {
		if ch != nil {
			c.fds.release(req.DescriptorId, ch)
		}
		return nil, storage.ObjectInfo{}, err
	}
	first, recv, cancel, err := openStream(ctx, func(sctx context.Context) (interface {
		Recv() (*pb.GetResponse, error)
	}, error) {
		return c.c.Get(sctx, req, chunkCallOption())
	})
	if err != nil {
		return fail(c.err(err))
	}
	info := first.GetInfo()
	if info == nil {
		cancel()
		return fail(fmt.Errorf("plugin %s: get stream did not start with object info: %w", c.who, plugin.ErrInternal))
	}
	return newGetReader(c.who, recv, cancel, c.fds, req.DescriptorId, ch), fromObject(info), nil
}

func (c *storageClient) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := c.storageCheck("put", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	// Cancelling sctx aborts the stream, which tells the plugin the object
	// is incomplete; a clean CloseSend is the only way to commit it.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Put(sctx)
	if err != nil {
		return storage.ObjectInfo{}, c.err(err)
	}
	err = stream.Send(&pb.PutRequest{Msg: &pb.PutRequest_Header{Header: &pb.PutHeader{Key: key, ContentType: opts.ContentType, IfAbsent: opts.IfAbsent}}})
	buf := make([]byte, ChunkSize)
	for err == nil {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			// gRPC marshals the message before Send returns, so buf can
			// be reused.
			if err = stream.Send(&pb.PutRequest{Msg: &pb.PutRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				break
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			cancel()
			if cerr := ctx.Err(); cerr != nil {
				return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: cerr}
			}
			return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: fmt.Errorf("reading the object: %w", rerr)}
		}
	}
	// io.EOF from Send means the plugin ended the call (typically with an
	// error); CloseAndRecv returns its status.
	if err != nil && err != io.EOF {
		return storage.ObjectInfo{}, c.err(err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return storage.ObjectInfo{}, c.err(err)
	}
	return fromObject(resp.Info), nil
}

func (c *storageClient) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := c.storageCheck("stat", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	r, err := c.c.Stat(ctx, &pb.StatRequest{Key: key})
	if err != nil {
		return storage.ObjectInfo{}, c.err(err)
	}
	return fromObject(r), nil
}

func (c *storageClient) Delete(ctx context.Context, key string) error {
	if err := c.storageCheck("delete", key); err != nil {
		return err
	}
	_, err := c.c.Delete(ctx, &pb.DeleteRequest{Key: key})
	return c.err(err)
}

func (c *storageClient) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	if err := c.usable(); err != nil {
		return storage.ListPage{}, &storage.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	if !utf8.ValidString(opts.Prefix) || !utf8.ValidString(opts.After) {
		return storage.ListPage{}, nil // no valid key starts with or sorts after such bytes in a way we can carry
	}
	r, err := c.c.List(ctx, &pb.ListRequest{Prefix: opts.Prefix, After: opts.After, Limit: int32(min(opts.Limit, 1<<30))})
	if err != nil {
		return storage.ListPage{}, c.err(err)
	}
	page := storage.ListPage{Next: r.Next}
	for _, o := range r.Objects {
		page.Objects = append(page.Objects, fromObject(o))
	}
	return page, nil
}

type computeClient struct {
	*lifecycleClient
	c pb.ComputeClient
}

var _ compute.Backend = (*computeClient)(nil)

func (c *computeClient) Submit(ctx context.Context, spec compute.JobSpec) (compute.JobID, error) {
	if err := c.computeCheck("submit", ""); err != nil {
		return "", err
	}
	if !specUTF8(spec) {
		return "", &compute.Error{Op: "submit", Err: fmt.Errorf("%w: strings must be valid UTF-8", compute.ErrInvalidSpec)}
	}
	r, err := c.c.Submit(ctx, &pb.SubmitRequest{Spec: pbconv.SpecToPB(spec)})
	if err != nil {
		return "", c.err(err)
	}
	return compute.JobID(r.Id), nil
}

func (c *computeClient) Status(ctx context.Context, id compute.JobID) (compute.Status, error) {
	if err := c.computeCheck("status", id); err != nil {
		return compute.Status{}, err
	}
	r, err := c.c.Status(ctx, &pb.JobRequest{Id: string(id)})
	if err != nil {
		return compute.Status{}, c.err(err)
	}
	return pbconv.StatusFromPB(r), nil
}

func (c *computeClient) Logs(ctx context.Context, id compute.JobID, opts compute.LogOptions) (io.ReadCloser, error) {
	if err := c.computeCheck("logs", id); err != nil {
		return nil, err
	}
	first, recv, cancel, err := openStream(ctx, func(sctx context.Context) (interface{ Recv() (*pb.Chunk, error) }, error) {
		return c.c.Logs(sctx, &pb.LogsRequest{Id: string(id), Follow: opts.Follow})
	})
	if err != nil {
		return nil, c.err(err)
	}
	return &streamReader[*pb.Chunk]{
		recv: recv, cancel: cancel, who: c.who, buf: first.Data,
		chunk: func(m *pb.Chunk) ([]byte, bool) { return m.Data, true },
	}, nil
}

func (c *computeClient) Stop(ctx context.Context, id compute.JobID) error {
	if err := c.computeCheck("stop", id); err != nil {
		return err
	}
	_, err := c.c.Stop(ctx, &pb.JobRequest{Id: string(id)})
	return c.err(err)
}

func (c *computeClient) List(ctx context.Context, opts compute.ListOptions) (compute.ListPage, error) {
	if err := c.computeCheck("list", ""); err != nil {
		return compute.ListPage{}, err
	}
	req := &pb.JobListRequest{After: string(opts.After), Limit: int32(min(opts.Limit, 1<<30))}
	for _, s := range opts.States {
		req.States = append(req.States, string(s))
	}
	r, err := c.c.List(ctx, req)
	if err != nil {
		return compute.ListPage{}, c.err(err)
	}
	page := compute.ListPage{Next: compute.JobID(r.Next)}
	for _, j := range r.Jobs {
		page.Jobs = append(page.Jobs, pbconv.StatusFromPB(j))
	}
	return page, nil
}

func (c *computeClient) Results(ctx context.Context, id compute.JobID) ([]compute.Result, error) {
	if err := c.computeCheck("results", id); err != nil {
		return nil, err
	}
	r, err := c.c.Results(ctx, &pb.JobRequest{Id: string(id)})
	if err != nil {
		return nil, c.err(err)
	}
	var rs []compute.Result
	for _, x := range r.Results {
		rs = append(rs, pbconv.ResultFromPB(x))
	}
	return rs, nil
}

func (c *computeClient) OpenResult(ctx context.Context, id compute.JobID, name string) (io.ReadCloser, compute.Result, error) {
	if err := c.computeCheck("open-result", id); err != nil {
		return nil, compute.Result{}, err
	}
	first, recv, cancel, err := openStream(ctx, func(sctx context.Context) (interface {
		Recv() (*pb.OpenResultResponse, error)
	}, error) {
		return c.c.OpenResult(sctx, &pb.OpenResultRequest{Id: string(id), Name: name})
	})
	if err != nil {
		return nil, compute.Result{}, c.err(err)
	}
	res := first.GetResult()
	if res == nil {
		cancel()
		return nil, compute.Result{}, fmt.Errorf("plugin %s: result stream did not start with result info: %w", c.who, plugin.ErrInternal)
	}
	return &streamReader[*pb.OpenResultResponse]{
		recv: recv, cancel: cancel, who: c.who,
		chunk: func(m *pb.OpenResultResponse) ([]byte, bool) {
			ch, ok := m.Msg.(*pb.OpenResultResponse_Chunk)
			if !ok {
				return nil, false
			}
			return ch.Chunk, true
		},
	}, pbconv.ResultFromPB(res), nil
}

// newBackend asks the plugin behind conn for its Info and returns the
// matching client. onClose runs once after the remote Close.
// fds, when not nil, is the process's descriptor channel.
func newBackend(ctx context.Context, conn grpc.ClientConnInterface, fallbackID string, fds *fdChannel, onClose func()) (plugin.Plugin, plugin.Info, error) {
	lc := &lifecycleClient{who: fallbackID, lc: pb.NewLifecycleClient(conn), onClose: onClose}
	info, err := lc.fetchInfo(ctx)
	if err != nil {
		return nil, plugin.Info{}, fmt.Errorf("asking plugin %s for its info: %w", fallbackID, err)
	}
	if err := info.Validate(); err != nil {
		return nil, info, fmt.Errorf("plugin %s: %w", fallbackID, err)
	}
	lc.who = info.ID()
	lc.info.Store(&info)
	var want int
	switch info.Kind {
	case plugin.KindStorage:
		want = storage.APIVersion
	case plugin.KindCompute:
		want = compute.APIVersion
	}
	if info.APIVersion != want {
		return nil, info, &VersionError{Plugin: info.ID(), What: string(info.Kind) + " API", PluginVersion: info.APIVersion, NodeVersions: []int{want}}
	}
	switch info.Kind {
	case plugin.KindStorage:
		return &storageClient{lifecycleClient: lc, c: pb.NewStorageClient(conn), fds: fds}, info, nil
	default:
		return &computeClient{lifecycleClient: lc, c: pb.NewComputeClient(conn)}, info, nil
	}
}

// VersionError reports a plugin built for another version of the node's
// plugin protocol or of its kind's API.
type VersionError struct {
	Plugin        string // plugin id or path
	What          string // "plugin protocol", "storage API", "compute API"
	PluginVersion int    // 0 when the plugin did not say
	NodeVersions  []int
}

func (e *VersionError) Error() string {
	pv := "an unknown version"
	if e.PluginVersion > 0 {
		pv = fmt.Sprintf("version %d", e.PluginVersion)
	}
	return fmt.Sprintf("plugin %s speaks %s of the %s, but this node supports %v: rebuild the plugin against a matching github.com/nvm-node/nvm-node/sdk, or run a node release that supports it",
		e.Plugin, pv, e.What, e.NodeVersions)
}

// specUTF8 reports whether every string of spec is valid UTF-8, as
// protobuf requires; a spec that is not could not be sent.
func specUTF8(s compute.JobSpec) bool {
	strs := []string{s.Name, s.Owner, s.Algorithm.Ref, s.Algorithm.Digest}
	strs = append(strs, s.Args...)
	strs = append(strs, s.Algorithm.Entrypoint...)
	for _, m := range []map[string]string{s.Env, s.Params, s.Labels} {
		for k, v := range m {
			strs = append(strs, k, v)
		}
	}
	for _, in := range s.Inputs {
		strs = append(strs, in.Name, in.URL, in.Digest, in.Path)
	}
	for _, out := range s.Outputs {
		strs = append(strs, out.Name, out.Path)
	}
	if f := s.Federated; f != nil {
		strs = append(strs, string(f.Role), f.Session, f.Aggregator)
		for _, p := range f.Participants {
			strs = append(strs, p.Node, p.Workflow)
		}
	}
	for _, x := range strs {
		if !utf8.ValidString(x) {
			return false
		}
	}
	return true
}

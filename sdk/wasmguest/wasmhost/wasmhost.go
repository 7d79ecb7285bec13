// Package wasmhost is the node's side of the wasmguest ABI: a
// storage.Backend (Open) or compute.Backend (OpenCompute) whose calls run
// in a WebAssembly module instance. The node (core/pluginhost) owns the
// wazero runtime, its limits and grants; this package only needs a
// function that instantiates the module, and lives in the SDK because the
// ABI's encodings are internal to it.
//
// One instance serves one call at a time. A call whose instance traps,
// exits (a Go guest out of memory exits) or is stopped because the call's
// context ended is failed with an error naming the plugin; the instance is
// discarded, and the next call starts and configures a fresh one. Streams
// opened on a discarded instance fail with plugin.ErrUnavailable.
//
// A compute module's jobs run only while the host steps it: Compute keeps
// one goroutine that does so while the module reports active jobs (see
// the package documentation of wasmguest).
//
// Net is the host module "nvm_http" through which modules make HTTP(S)
// requests to the hosts granted to them (HostGrants), and no others.
package wasmhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// ABIVersion is the version of the guest ABI this host speaks.
const ABIVersion = wasmabi.Version

// Config says how to run a module.
type Config struct {
	// ID is the plugin id the node expects ("storage.name"); the module's
	// Info must match it.
	ID string
	// Instantiate returns a new, initialised instance of the module.
	Instantiate func(ctx context.Context) (api.Module, error)
	// CallTimeout, when positive, bounds each call into the module that no
	// caller's context bounds: the chunks of a stream and the steps of a Put.
	CallTimeout time.Duration
	// MemoryLimit is the instance's memory limit in bytes, if known, so a
	// failure from running out of it can be reported as such.
	MemoryLimit uint64
	// OnStart runs after each instance starts; OnDiscard after an instance
	// is discarded because it failed, with the reason. Both may be nil.
	OnStart   func()
	OnDiscard func(error)
	// OnClose runs once when the backend is closed, e.g. to close the
	// runtime. It may be nil.
	OnClose func()
}

// VersionError reports a module built for another ABI or storage API
// version.
type VersionError struct {
	Plugin        string
	What          string // "wasm plugin ABI", "storage API"
	PluginVersion int    // 0 when the module did not say
	NodeVersion   int
}

func (e *VersionError) Error() string {
	pv := "an unknown version"
	if e.PluginVersion > 0 {
		pv = fmt.Sprintf("version %d", e.PluginVersion)
	}
	return fmt.Sprintf("plugin %s speaks %s of the %s, but this node speaks version %d: rebuild the module against a matching github.com/nvm-node/nvm-node/sdk, or run a node release that supports it",
		e.Plugin, pv, e.What, e.NodeVersion)
}

// instance is one live module instance.
type instance struct {
	mod   api.Module
	mem   api.Memory
	buf   api.Function
	call  api.Function
	stack []uint64
	gen   uint64 // distinguishes instances, so stale handles are refused
	tag   string // random: distinguishes instances in job ids, across node restarts too
}

// conn is the machinery every kind of backend shares: the live instance,
// the calls into it, and its replacement after a failure.
type conn struct {
	cfg  Config
	info plugin.Info

	mu         sync.Mutex
	inst       *instance
	gens       uint64
	config     plugin.Config // reapplied to each new instance
	configured bool
	closed     bool
	closeOnce  sync.Once
}

// Storage is a storage.Backend served by a module.
type Storage struct{ conn }

var _ storage.Backend = (*Storage)(nil)

// Open starts the module, checks its ABI version and Info (kind, id and
// storage API version) and returns the backend, not yet configured.
func Open(ctx context.Context, cfg Config) (*Storage, error) {
	s := &Storage{conn{cfg: cfg}}
	if err := s.start(ctx, plugin.KindStorage, storage.APIVersion); err != nil {
		return nil, err
	}
	return s, nil
}

// start starts the first instance and checks its ABI version and Info
// against the kind and API version wanted. On failure it runs OnClose.
func (s *conn) start(ctx context.Context, kind plugin.Kind, apiVersion int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(err error) error {
		s.discardLocked(nil)
		s.runOnClose()
		return err
	}
	cfg := s.cfg
	mod, err := cfg.Instantiate(ctx)
	if err != nil {
		s.runOnClose()
		return fmt.Errorf("plugin %s: starting the module: %w", cfg.ID, err)
	}
	s.newInstanceLocked(mod)
	ver := mod.ExportedFunction(wasmabi.ExportVersion)
	if ver == nil {
		return fail(fmt.Errorf("plugin %s: the module does not export %s: it is not an nvm-node plugin (build it with github.com/nvm-node/nvm-node/sdk/wasmguest)", cfg.ID, wasmabi.ExportVersion))
	}
	res, err := ver.Call(ctx)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: asking the module for its ABI version: %w", cfg.ID, err))
	}
	if v := int(int32(res[0])); v != wasmabi.Version {
		return fail(&VersionError{Plugin: cfg.ID, What: "wasm plugin ABI", PluginVersion: max(v, 0), NodeVersion: wasmabi.Version})
	}
	if s.inst.buf == nil || s.inst.call == nil || s.inst.mem == nil {
		return fail(fmt.Errorf("plugin %s: the module lacks %s, %s or its memory export", cfg.ID, wasmabi.ExportBuffer, wasmabi.ExportCall))
	}
	if cfg.OnStart != nil {
		cfg.OnStart()
	}
	var r pluginpb.InfoResponse
	if err := s.callMsgLocked(ctx, wasmabi.OpInfo, 0, &pluginpb.InfoRequest{}, &r); err != nil {
		return fail(fmt.Errorf("asking plugin %s for its info: %w", cfg.ID, err))
	}
	s.info = wasmabi.InfoFromPB(&r)
	switch err := s.info.Validate(); {
	case err != nil:
		return fail(fmt.Errorf("plugin %s: %w", cfg.ID, err))
	case s.info.Kind != kind:
		return fail(fmt.Errorf("plugin %s: the module serves a %s backend, not %s", cfg.ID, s.info.Kind, kind))
	case s.info.ID() != cfg.ID:
		return fail(fmt.Errorf("plugin %s: the module reports id %s", cfg.ID, s.info.ID()))
	case s.info.APIVersion != apiVersion:
		return fail(&VersionError{Plugin: cfg.ID, What: string(kind) + " API", PluginVersion: s.info.APIVersion, NodeVersion: apiVersion})
	}
	return nil
}

// newInstanceLocked makes mod the live instance.
func (s *conn) newInstanceLocked(mod api.Module) {
	s.gens++
	var tag [4]byte
	rand.Read(tag[:])
	s.inst = &instance{
		mod: mod, mem: mod.Memory(), stack: make([]uint64, 3), gen: s.gens, tag: hex.EncodeToString(tag[:]),
		buf: mod.ExportedFunction(wasmabi.ExportBuffer), call: mod.ExportedFunction(wasmabi.ExportCall),
	}
}

// Alive reports whether the backend is open and has a live instance (the
// next call would otherwise start one).
func (s *conn) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.inst != nil && !s.inst.mod.IsClosed()
}

func (s *conn) runOnClose() {
	s.closeOnce.Do(func() {
		if s.cfg.OnClose != nil {
			s.cfg.OnClose()
		}
	})
}

// ensureLocked returns the live instance, starting and configuring a new
// one if the last was discarded.
func (s *conn) ensureLocked(ctx context.Context) (*instance, error) {
	if s.closed {
		return nil, fmt.Errorf("plugin %s: %w", s.cfg.ID, plugin.ErrClosed)
	}
	if s.inst != nil {
		return s.inst, nil
	}
	mod, err := s.cfg.Instantiate(ctx)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("plugin %s: restarting the module: %w", s.cfg.ID, cerr)
		}
		return nil, fmt.Errorf("plugin %s: restarting the module: %w: %w", s.cfg.ID, plugin.ErrUnavailable, err)
	}
	s.newInstanceLocked(mod)
	if s.cfg.OnStart != nil {
		s.cfg.OnStart()
	}
	if s.configured {
		if err := s.callMsgLocked(ctx, wasmabi.OpConfigure, 0, &pluginpb.ConfigureRequest{Config: s.config}, nil); err != nil {
			s.discardLocked(nil)
			return nil, fmt.Errorf("plugin %s: configuring the restarted module: %w", s.cfg.ID, err)
		}
	}
	return s.inst, nil
}

// discardLocked closes the current instance; why, when not nil, is the
// failure that condemned it.
func (s *conn) discardLocked(why error) {
	if s.inst == nil {
		return
	}
	s.inst.mod.Close(context.Background())
	s.inst = nil
	if why != nil && s.cfg.OnDiscard != nil {
		s.cfg.OnDiscard(why)
	}
}

// callLocked runs op with req (or, for OpRead, n) and returns the status
// and the payload, which stays valid until the next call. An error is a
// failure of the instance, which is then discarded.
func (s *conn) callLocked(ctx context.Context, op wasmabi.Op, h uint32, req []byte, n int) (wasmabi.Status, []byte, error) {
	inst, err := s.ensureLocked(ctx)
	if err != nil {
		return 0, nil, err
	}
	if req != nil {
		n = len(req)
		inst.stack[0] = uint64(len(req))
		if err := inst.buf.CallWithStack(ctx, inst.stack); err != nil {
			return 0, nil, s.failed(ctx, err)
		}
		if !inst.mem.Write(uint32(inst.stack[0]), req) {
			s.discardLocked(errors.New("request buffer out of bounds"))
			return 0, nil, fmt.Errorf("plugin %s: the module returned a request buffer outside its memory: %w", s.cfg.ID, plugin.ErrInternal)
		}
	}
	inst.stack[0], inst.stack[1], inst.stack[2] = uint64(op), uint64(h), uint64(n)
	if err := inst.call.CallWithStack(ctx, inst.stack); err != nil {
		return 0, nil, s.failed(ctx, err)
	}
	ptr, size := wasmabi.Unpack(inst.stack[0])
	out, ok := inst.mem.Read(ptr, size)
	if !ok || size == 0 {
		s.discardLocked(errors.New("response out of bounds"))
		return 0, nil, fmt.Errorf("plugin %s: the module returned a response outside its memory: %w", s.cfg.ID, plugin.ErrInternal)
	}
	return wasmabi.Status(out[0]), out[1:], nil
}

// outOfMemory reports whether the instance's memory is within a Go heap
// arena (4 MiB on wasm) of its limit, the sign that the module died
// failing to grow it.
func (s *conn) outOfMemory(mem api.Memory) (used uint64, ok bool) {
	if mem == nil || s.cfg.MemoryLimit == 0 {
		return 0, false
	}
	used = uint64(mem.Size())
	return used, used+4<<20 > s.cfg.MemoryLimit
}

// failed discards the instance after a failed call and explains why.
func (s *conn) failed(ctx context.Context, err error) error {
	var mem api.Memory
	if s.inst != nil {
		mem = s.inst.mem
	}
	used, oom := s.outOfMemory(mem)
	s.discardLocked(err)
	if oom && ctx.Err() == nil {
		return fmt.Errorf("plugin %s: module ran out of memory (%d MiB used of its %d MiB limit; raise limits.memory in plugins.yaml if it needs more): %w", s.cfg.ID, used>>20, s.cfg.MemoryLimit>>20, plugin.ErrUnavailable)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("plugin %s: module stopped when the call's context ended (%w); the next call starts a fresh instance", s.cfg.ID, cerr)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("plugin %s: module exited with code %d (a Go module does when it runs out of memory or panics; see its log): %w", s.cfg.ID, exit.ExitCode(), plugin.ErrUnavailable)
	}
	return fmt.Errorf("plugin %s: module failed: %v: %w", s.cfg.ID, err, plugin.ErrUnavailable)
}

// callMsgLocked runs op with a request message and decodes the response
// into resp (when not nil), or returns the module's error.
func (s *conn) callMsgLocked(ctx context.Context, op wasmabi.Op, h uint32, req, resp proto.Message) error {
	b, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("plugin %s: encoding the request: %w", s.cfg.ID, err)
	}
	if b == nil {
		b = []byte{}
	}
	st, payload, err := s.callLocked(ctx, op, h, b, 0)
	if err != nil {
		return err
	}
	return s.decode(st, payload, resp)
}

func (s *conn) decode(st wasmabi.Status, payload []byte, resp proto.Message) error {
	switch st {
	case wasmabi.StatusOK:
		if resp == nil {
			return nil
		}
		if err := proto.Unmarshal(payload, resp); err != nil {
			return fmt.Errorf("plugin %s: undecodable response: %w", s.cfg.ID, plugin.ErrInternal)
		}
		return nil
	case wasmabi.StatusError:
		return wasmabi.DecodeError(s.cfg.ID, payload)
	}
	return fmt.Errorf("plugin %s: unexpected response status %d: %w", s.cfg.ID, st, plugin.ErrInternal)
}

// bounded derives the context of a call no caller's context bounds.
// Without a timeout it is a context that is never done, which also spares
// wazero a watcher goroutine per call.
func (s *conn) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	if s.cfg.CallTimeout > 0 {
		return context.WithTimeout(ctx, s.cfg.CallTimeout)
	}
	return ctx, func() {}
}

// Info returns the Info read when the module was opened.
func (s *conn) Info(context.Context) (plugin.Info, error) { return s.info, nil }

// Configure configures the module and remembers cfg for later instances.
func (s *conn) Configure(ctx context.Context, cfg plugin.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.callMsgLocked(ctx, wasmabi.OpConfigure, 0, &pluginpb.ConfigureRequest{Config: cfg}, nil); err != nil {
		return err
	}
	s.config, s.configured = append(plugin.Config(nil), cfg...), true
	return nil
}

// Close closes the backend in the module, then the instance, then runs
// Config.OnClose.
func (s *Storage) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked(ctx)
}

func (s *conn) closeLocked(ctx context.Context) error {
	if s.closed {
		return nil
	}
	var err error
	if s.inst != nil {
		err = s.callMsgLocked(ctx, wasmabi.OpClose, 0, &pluginpb.CloseRequest{}, nil)
		if errors.Is(err, plugin.ErrUnavailable) {
			err = nil // a module that died is closed as far as the caller is concerned
		}
	}
	s.closed = true
	s.discardLocked(nil)
	s.runOnClose()
	return err
}

// check refuses calls the module cannot be asked: after Close, with a done
// context, or with a key protobuf cannot carry.
func (s *Storage) check(ctx context.Context, op, key string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return &storage.Error{Op: op, Key: key, Err: fmt.Errorf("plugin %s: %w", s.cfg.ID, plugin.ErrClosed)}
	case ctx.Err() != nil:
		return &storage.Error{Op: op, Key: key, Err: ctx.Err()}
	case !utf8.ValidString(key):
		return &storage.Error{Op: op, Key: key, Err: storage.ErrInvalidKey}
	}
	return nil
}

// opErr gives an error that did not come from the backend its operation.
func opErr(op, key string, err error) error {
	var se *storage.Error
	if err == nil || errors.As(err, &se) {
		return err
	}
	return &storage.Error{Op: op, Key: key, Err: err}
}

// Get opens the object in the module and returns a reader pulling its
// chunks.
func (s *Storage) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := s.check(ctx, "get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	req := &pluginpb.GetRequest{Key: key}
	if opts.Range != nil {
		req.Range = &pluginpb.Range{Offset: opts.Range.Offset, Length: opts.Range.Length}
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, storage.ObjectInfo{}, opErr("get", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, payload, err := s.callLocked(ctx, wasmabi.OpGet, 0, b, 0)
	if err != nil {
		return nil, storage.ObjectInfo{}, opErr("get", key, err)
	}
	if st != wasmabi.StatusOK {
		return nil, storage.ObjectInfo{}, opErr("get", key, s.decode(st, payload, nil))
	}
	h, rest, err := wasmabi.SplitHandle(payload)
	if err != nil {
		return nil, storage.ObjectInfo{}, opErr("get", key, fmt.Errorf("plugin %s: %v: %w", s.cfg.ID, err, plugin.ErrInternal))
	}
	var info pluginpb.ObjectInfo
	if err := proto.Unmarshal(rest, &info); err != nil {
		return nil, storage.ObjectInfo{}, opErr("get", key, fmt.Errorf("plugin %s: undecodable object info: %w", s.cfg.ID, plugin.ErrInternal))
	}
	return &reader{s: s, gen: s.inst.gen, h: h, key: key}, wasmabi.ObjectFromPB(&info), nil
}

// reader pulls a Get stream from the module.
type reader struct {
	s   *Storage
	gen uint64
	h   uint32
	key string

	mu      sync.Mutex
	buf     []byte // chunk storage for small reads
	pending []byte // unread part of buf
	err     error  // sticky: EOF or failure
	closed  bool
}

// directRead is the read size from which bytes are copied straight from
// module memory into the caller's slice.
const directRead = 64 << 10

func (r *reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("read on closed plugin stream")
	}
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	dst := p
	if len(p) < directRead {
		if r.buf == nil {
			r.buf = make([]byte, wasmabi.ChunkSize)
		}
		dst = r.buf
	}
	n, err := r.fetch(dst)
	if err != nil {
		r.err = err
		return 0, err
	}
	if len(p) < directRead {
		r.pending = r.buf[:n]
		n = copy(p, r.pending)
		r.pending = r.pending[n:]
	}
	return n, nil
}

// fetch reads the next chunk into dst.
func (r *reader) fetch(dst []byte) (int, error) {
	s := r.s
	ctx, cancel := s.bounded(context.Background())
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.staleLocked(); err != nil {
		return 0, err
	}
	for {
		st, payload, err := s.callLocked(ctx, wasmabi.OpRead, r.h, nil, min(len(dst), wasmabi.ChunkSize))
		switch {
		case err != nil:
			return 0, opErr("get", r.key, err)
		case st == wasmabi.StatusEOF:
			return 0, io.EOF
		case st != wasmabi.StatusOK:
			return 0, opErr("get", r.key, s.decode(st, payload, nil))
		case len(payload) > 0:
			return copy(dst, payload), nil
		}
	}
}

// staleLocked reports whether the stream's instance is gone.
func (r *reader) staleLocked() error {
	s := r.s
	switch {
	case s.closed:
		return &storage.Error{Op: "get", Key: r.key, Err: fmt.Errorf("plugin %s: %w", s.cfg.ID, plugin.ErrClosed)}
	case s.inst == nil || s.inst.gen != r.gen:
		return &storage.Error{Op: "get", Key: r.key, Err: fmt.Errorf("plugin %s: the module instance serving this stream failed: %w", s.cfg.ID, plugin.ErrUnavailable)}
	}
	return nil
}

func (r *reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	s := r.s
	ctx, cancel := s.bounded(context.Background())
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.staleLocked() == nil {
		s.callLocked(ctx, wasmabi.OpCloseHandle, r.h, nil, 0)
	}
	return nil
}

// Put opens a Put in the module and pushes r to it chunk by chunk,
// releasing the instance between chunks so other calls proceed.
func (s *Storage) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := s.check(ctx, "put", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	hdr, err := proto.Marshal(&pluginpb.PutHeader{Key: key, ContentType: opts.ContentType, IfAbsent: opts.IfAbsent})
	if err != nil {
		return storage.ObjectInfo{}, opErr("put", key, err)
	}
	var h uint32
	var gen uint64
	s.mu.Lock()
	st, payload, err := s.callLocked(ctx, wasmabi.OpPutOpen, 0, hdr, 0)
	if err == nil && st == wasmabi.StatusOK {
		h, _, err = wasmabi.SplitHandle(payload)
		gen = s.inst.gen
	} else if err == nil {
		err = s.decode(st, payload, nil)
	}
	s.mu.Unlock()
	if err != nil {
		return storage.ObjectInfo{}, opErr("put", key, err)
	}
	// step runs one call of this Put, bounded by ctx and CallTimeout.
	step := func(ctx context.Context, op wasmabi.Op, chunk []byte) (wasmabi.Status, []byte, error) {
		if s.cfg.CallTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.cfg.CallTimeout)
			defer cancel()
		}
		if s.closed {
			return 0, nil, fmt.Errorf("plugin %s: %w", s.cfg.ID, plugin.ErrClosed)
		}
		if s.inst == nil || s.inst.gen != gen {
			return 0, nil, fmt.Errorf("plugin %s: the module instance serving this put failed: %w", s.cfg.ID, plugin.ErrUnavailable)
		}
		return s.callLocked(ctx, op, h, chunk, 0)
	}
	abort := func(cause error) (storage.ObjectInfo, error) {
		actx, cancel := s.bounded(ctx)
		defer cancel()
		s.mu.Lock()
		step(actx, wasmabi.OpPutAbort, []byte{})
		s.mu.Unlock()
		return storage.ObjectInfo{}, opErr("put", key, cause)
	}
	buf := make([]byte, wasmabi.ChunkSize)
	for {
		n, rerr := io.ReadFull(r, buf)
		if cerr := ctx.Err(); cerr != nil {
			return abort(cerr)
		}
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return abort(fmt.Errorf("reading the object: %w", rerr))
		}
		if n > 0 {
			s.mu.Lock()
			st, payload, err := step(ctx, wasmabi.OpPutWrite, buf[:n])
			if err == nil && st != wasmabi.StatusOK {
				// The backend stopped reading (typically with an error):
				// commit to learn its outcome.
				rerr = io.EOF
			}
			_ = payload
			s.mu.Unlock()
			if err != nil {
				return storage.ObjectInfo{}, opErr("put", key, err)
			}
		}
		if rerr != nil {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, payload, err = step(ctx, wasmabi.OpPutCommit, []byte{})
	if err != nil {
		return storage.ObjectInfo{}, opErr("put", key, err)
	}
	var resp pluginpb.PutResponse
	if err := s.decode(st, payload, &resp); err != nil {
		return storage.ObjectInfo{}, opErr("put", key, err)
	}
	return wasmabi.ObjectFromPB(resp.Info), nil
}

// Stat implements storage.Backend.
func (s *Storage) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := s.check(ctx, "stat", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	var info pluginpb.ObjectInfo
	s.mu.Lock()
	err := s.callMsgLocked(ctx, wasmabi.OpStat, 0, &pluginpb.StatRequest{Key: key}, &info)
	s.mu.Unlock()
	if err != nil {
		return storage.ObjectInfo{}, opErr("stat", key, err)
	}
	return wasmabi.ObjectFromPB(&info), nil
}

// Delete implements storage.Backend.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, "delete", key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return opErr("delete", key, s.callMsgLocked(ctx, wasmabi.OpDelete, 0, &pluginpb.DeleteRequest{Key: key}, nil))
}

// List implements storage.Backend.
func (s *Storage) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	if err := s.check(ctx, "list", ""); err != nil {
		return storage.ListPage{}, err
	}
	if !utf8.ValidString(opts.Prefix) || !utf8.ValidString(opts.After) {
		return storage.ListPage{}, nil // no valid key carries such bytes
	}
	var resp pluginpb.ListResponse
	s.mu.Lock()
	err := s.callMsgLocked(ctx, wasmabi.OpList, 0, &pluginpb.ListRequest{Prefix: opts.Prefix, After: opts.After, Limit: int32(min(opts.Limit, 1<<30))}, &resp)
	s.mu.Unlock()
	if err != nil {
		return storage.ListPage{}, opErr("list", opts.Prefix, err)
	}
	page := storage.ListPage{Next: resp.Next}
	for _, o := range resp.Objects {
		page.Objects = append(page.Objects, wasmabi.ObjectFromPB(o))
	}
	return page, nil
}

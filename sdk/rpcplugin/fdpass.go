package rpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wireerr"
	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// Descriptor passing: on Linux the bytes of a Get do not cross gRPC and
// TLS. At start the host gives the plugin one end of a socket pair (an
// inherited descriptor, named to the plugin by fdChannelEnv); a Get that
// offers a descriptor id is answered on that channel with a descriptor:
// the object's file itself when the backend's reader is a local file, or
// the read end of a pipe the plugin fills otherwise. The gRPC stream still
// carries the object info, errors, the end-of-stream status of a pipe and
// cancellation. The channel has no name in any filesystem, so only the
// plugin the host started holds its other end.

// fdChannelEnv names, in the plugin's environment, the descriptor number
// of its end of the descriptor channel.
const fdChannelEnv = "NVM_NODE_PLUGIN_FD_CHANNEL"

// pipeSize is the pipe buffer a plugin asks for (the kernel's default
// ceiling for unprivileged processes), so a pipe holds a chunk, not 64 KiB.
const pipeSize = 1 << 20

// errChannelClosed reports a descriptor channel whose plugin is gone.
var errChannelClosed = errors.New("descriptor channel closed")

// fdChannel is the host's end of the descriptor channel: one receive loop
// hands each arriving descriptor to the Get waiting for its id.
type fdChannel struct {
	recv  func() (id uint64, fd int, err error) // blocks for the next message
	close func() error

	next     atomic.Uint64
	mu       sync.Mutex
	wait     map[uint64]chan int // registered ids; each channel holds one descriptor
	done     chan struct{}       // closed when the receive loop has ended
	err      error               // why it ended; set before done is closed
	shutOnce sync.Once
}

func newFDChannel(recv func() (uint64, int, error), closeFn func() error) *fdChannel {
	c := &fdChannel{recv: recv, close: closeFn, wait: map[uint64]chan int{}, done: make(chan struct{})}
	go c.loop()
	return c
}

func (c *fdChannel) loop() {
	defer close(c.done)
	for {
		id, fd, err := c.recv()
		if err != nil {
			c.err = err
			return
		}
		// Delivering under the lock lets release drain without a race.
		c.mu.Lock()
		ch, ok := c.wait[id]
		delete(c.wait, id)
		if ok {
			ch <- fd // buffered, and one descriptor per id
		}
		c.mu.Unlock()
		if !ok {
			// Nobody waits for it (the Get was closed first, or the
			// plugin misbehaves): do not leak it.
			closeFD(fd)
		}
	}
}

// register reserves an id for one Get; its descriptor will arrive on ch.
func (c *fdChannel) register() (id uint64, ch chan int) {
	id, ch = c.next.Add(1), make(chan int, 1)
	c.mu.Lock()
	c.wait[id] = ch
	c.mu.Unlock()
	return id, ch
}

// release forgets id, closing its descriptor if it arrived unclaimed.
func (c *fdChannel) release(id uint64, ch chan int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.wait, id)
	select {
	case fd := <-ch:
		closeFD(fd)
	default:
	}
}

// claim waits for id's descriptor, which the plugin sent before it told
// the host so over gRPC, until cancel is closed or the channel breaks.
func (c *fdChannel) claim(id uint64, ch chan int, cancel <-chan struct{}) (int, error) {
	select {
	case fd := <-ch:
		return fd, nil
	case <-cancel:
		c.release(id, ch)
		return -1, errStreamClosed
	case <-c.done:
		c.mu.Lock() // the descriptor may have arrived just before the end
		defer c.mu.Unlock()
		delete(c.wait, id)
		select {
		case fd := <-ch:
			return fd, nil
		default:
		}
		return -1, fmt.Errorf("%w: %v", errChannelClosed, c.err)
	}
}

// shut closes the host's end and waits for the receive loop to end.
func (c *fdChannel) shut() {
	c.shutOnce.Do(func() { c.close() })
	<-c.done
}

// FileSection is implemented by a reader returned by a storage backend's
// Get whose bytes are a section of a local file. A process plugin then
// hands the node the file itself instead of copying its bytes, and the
// node reads it at page-cache speed. The plugin closes the reader once the
// node has the descriptor; the node reads with pread, so the file's offset
// is not used. Besides implementers of FileSection, a bare *os.File (from
// its current offset to its end) and an *io.SectionReader over an *os.File
// qualify. Types that merely embed an *io.SectionReader do not: they may
// change the bytes (decrypt, decompress) in their own Read; such a type
// declares itself a plain file section by implementing FileSection.
type FileSection interface {
	// FileSection returns the file and the section of it the reader has
	// still to yield; ok false means the bytes do not come from a local
	// file as they are.
	FileSection() (f *os.File, offset, length int64, ok bool)
}

// fileSection recognises a reader whose bytes are a section of a regular
// local file.
func fileSection(r io.Reader) (f *os.File, off, n int64, ok bool) {
	switch r := r.(type) {
	case FileSection:
		f, off, n, ok = r.FileSection()
	case *io.SectionReader:
		ra, base, size := r.Outer()
		f, ok = ra.(*os.File)
		// Outer reports the whole section, not what is left of it.
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil || pos < 0 || pos > size {
			return nil, 0, 0, false
		}
		off, n = base+pos, size-pos
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return nil, 0, 0, false
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil || pos > fi.Size() {
			return nil, 0, 0, false
		}
		f, off, n, ok = r, pos, fi.Size()-pos, true
	}
	if !ok || f == nil || off < 0 || n < 0 {
		return nil, 0, 0, false
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, 0, 0, false // the node accepts regular files only
	}
	return f, off, n, true
}

// sendByDescriptor answers a Get through the descriptor channel. handled
// false means nothing was sent yet and the caller should stream chunks.
func (s *storageServer) sendByDescriptor(stream pb.Storage_GetServer, id uint64, rc io.Reader) (handled bool, err error) {
	if f, off, n, ok := fileSection(rc); ok {
		if err := s.fds.send(id, f); err != nil {
			return false, nil
		}
		return true, stream.Send(&pb.GetResponse{Msg: &pb.GetResponse_Handoff{Handoff: &pb.Handoff{
			Kind: pb.Handoff_KIND_FILE, Offset: off, Length: n,
		}}})
	}
	pr, pw, err := newPipe()
	if err != nil {
		return false, nil
	}
	err = s.fds.send(id, pr)
	pr.Close()
	if err != nil {
		pw.Close()
		return false, nil
	}
	defer pw.Close()
	if err := stream.Send(&pb.GetResponse{Msg: &pb.GetResponse_Handoff{Handoff: &pb.Handoff{Kind: pb.Handoff_KIND_PIPE}}}); err != nil {
		return true, err
	}
	// The wrappers keep io.CopyBuffer from handing the copy to the
	// file's ReadFrom, which would write 32 KiB at a time.
	_, err = io.CopyBuffer(struct{ io.Writer }{pw}, struct{ io.Reader }{rc}, make([]byte, ChunkSize))
	if err != nil {
		if cerr := stream.Context().Err(); cerr != nil {
			return true, wireerr.ToStatus(cerr) // the host closed its reader
		}
		return true, wireerr.ToStatus(err)
	}
	return true, nil
}

// getReader is the host's reader of a Get stream. It yields the chunks of
// the stream or, once the plugin hands over a descriptor, the bytes of
// that descriptor.
type getReader struct {
	streamReader[*pb.GetResponse]
	fds  *fdChannel // nil when no descriptor was offered
	id   uint64     // offered descriptor id; 0 once claimed or released
	ch   chan int
	done chan struct{} // closed by Close

	src       io.Reader               // the descriptor's bytes, once handed over
	pipe      bool                    // src is a pipe: the stream's status ends it
	file      atomic.Pointer[os.File] // the descriptor, closed by Close
	closeOnce sync.Once
}

func newGetReader(who string, recv func() (*pb.GetResponse, error), cancel context.CancelFunc, fds *fdChannel, id uint64, ch chan int) *getReader {
	r := &getReader{fds: fds, id: id, ch: ch, done: make(chan struct{})}
	r.streamReader = streamReader[*pb.GetResponse]{recv: recv, cancel: cancel, who: who, chunk: r.message}
	return r
}

// message takes one stream message in chunk mode: a chunk, or the switch
// to a descriptor. It runs with the lock held.
func (r *getReader) message(m *pb.GetResponse) ([]byte, bool) {
	switch m := m.Msg.(type) {
	case *pb.GetResponse_Chunk:
		r.releaseID() // the plugin streams chunks: no descriptor will come
		return m.Chunk, true
	case *pb.GetResponse_Handoff:
		if r.id == 0 {
			return nil, false // not offered, or offered once already
		}
		if err := r.adopt(m.Handoff); err != nil {
			r.err = err
		}
		return nil, true
	}
	return nil, false
}

func (r *getReader) releaseID() {
	if r.id != 0 {
		r.fds.release(r.id, r.ch)
		r.id = 0
	}
}

// adopt claims the descriptor the plugin announced.
func (r *getReader) adopt(h *pb.Handoff) error {
	id := r.id
	r.id = 0
	pipe := h.Kind == pb.Handoff_KIND_PIPE
	if !pipe && (h.Kind != pb.Handoff_KIND_FILE || h.Offset < 0 || h.Length < 0) {
		r.fds.release(id, r.ch)
		return fmt.Errorf("plugin %s: invalid descriptor handoff %v: %w", r.who, h, plugin.ErrInternal)
	}
	fd, err := r.fds.claim(id, r.ch, r.done)
	if err != nil {
		if errors.Is(err, errStreamClosed) {
			return err
		}
		return fmt.Errorf("plugin %s: receiving the object's descriptor: %w: %w", r.who, err, plugin.ErrUnavailable)
	}
	f, err := adoptFD(fd, pipe)
	if err != nil {
		return fmt.Errorf("plugin %s: %w: %w", r.who, err, plugin.ErrInternal)
	}
	r.file.Store(f)
	select {
	case <-r.done: // Close ran meanwhile and may have missed the file
		if f := r.file.Swap(nil); f != nil {
			f.Close()
		}
		return errStreamClosed
	default:
	}
	if pipe {
		r.src, r.pipe = f, true
		return nil
	}
	// The stream ends after a file: the plugin is no longer needed.
	r.cancel()
	r.src = &sectionReader{f: f, off: h.Offset, left: h.Length}
	return nil
}

func (r *getReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errStreamClosed
	}
	if r.src == nil {
		n, err := r.readChunks(p)
		if r.src == nil || err != nil {
			return n, err
		}
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.src.Read(p)
	switch {
	case err == io.EOF && r.pipe:
		// The pipe ended: the stream's status says whether cleanly.
		r.err = r.finalStatus()
		if n > 0 {
			return n, nil
		}
		return 0, r.err
	case err == io.EOF:
		r.err = err
	case err != nil:
		select {
		case <-r.done:
			return n, errStreamClosed
		default:
		}
		r.err = fmt.Errorf("plugin %s: reading the object: %w", r.who, err)
		err = r.err
	}
	return n, err
}

// WriteTo copies the object to w through one ChunkSize buffer. Without it
// io.Copy would use w's ReadFrom when w has one (io.Discard, bufio,
// net/http's response writer), reading 8-32 KiB at a time: a system call
// each on a pipe or a file.
func (r *getReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, ChunkSize)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			wn, werr := w.Write(buf[:n])
			total += int64(wn)
			if werr == nil && wn < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// readChunks is streamReader.Read without its lock (Read holds it); it
// returns 0, nil when the plugin switches to a descriptor.
func (r *getReader) readChunks(p []byte) (int, error) {
	for len(r.buf) == 0 && r.src == nil {
		if r.err != nil {
			return 0, r.err
		}
		m, err := r.recv()
		if err != nil {
			r.releaseID()
			r.err = io.EOF
			if err != io.EOF {
				r.err = wireerr.FromStatus(r.who, err)
			}
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

// finalStatus receives the end of a pipe's Get stream.
func (r *getReader) finalStatus() error {
	m, err := r.recv()
	switch {
	case err == io.EOF:
		return io.EOF
	case err != nil:
		return wireerr.FromStatus(r.who, err)
	default:
		return fmt.Errorf("plugin %s: unexpected message %T after a pipe: %w", r.who, m.Msg, plugin.ErrInternal)
	}
}

// Close cancels the stream and closes the descriptor, which releases a
// Read blocked on a pipe and makes the plugin's writer fail. Like
// streamReader.Close, it takes the lock only once a blocked Read is
// released.
func (r *getReader) Close() error {
	r.closeOnce.Do(func() { close(r.done) })
	r.cancel()
	if f := r.file.Swap(nil); f != nil {
		f.Close()
	}
	r.mu.Lock()
	r.closed = true
	r.releaseID()
	r.mu.Unlock()
	return nil
}

// sectionReader reads a section of a file with pread, so the file's
// offset, shared with the plugin's copy of the descriptor, is not used.
type sectionReader struct {
	f    *os.File
	off  int64
	left int64
}

func (s *sectionReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.left)]
	n, err := s.f.ReadAt(p, s.off)
	s.off += int64(n)
	s.left -= int64(n)
	if err == io.EOF && s.left > 0 {
		err = fmt.Errorf("object file shorter than announced (%d bytes missing): %w", s.left, io.ErrUnexpectedEOF)
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

// fdSender is the plugin's end of the descriptor channel.
type fdSender struct{ conn *net.UnixConn }

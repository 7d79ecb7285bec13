package rpcplugin

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
)

// fSetPipeSz is F_SETPIPE_SZ, which package syscall does not define.
const fSetPipeSz = 1031

// openFDChannel makes the descriptor channel: a socket pair whose second
// end the plugin inherits. SOCK_SEQPACKET keeps each id together with its
// descriptor; close-on-exec keeps other children from inheriting it.
func openFDChannel() (host, child *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("descriptor channel: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "fd-channel"), os.NewFile(uintptr(fds[1]), "fd-channel-plugin"), nil
}

// hostFDChannel starts receiving descriptors on the host's end; it takes
// ownership of f.
func hostFDChannel(f *os.File) (*fdChannel, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("descriptor channel: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("descriptor channel: unexpected %T", c)
	}
	buf := make([]byte, 16)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	recv := func() (uint64, int, error) {
		for {
			n, oobn, flags, _, err := uc.ReadMsgUnix(buf, oob)
			if err != nil {
				return 0, -1, err
			}
			if n == 0 && oobn == 0 {
				return 0, -1, io.EOF // the plugin is gone
			}
			fds := unixRights(oob[:oobn])
			if n != 8 || len(fds) != 1 || flags&(syscall.MSG_CTRUNC|syscall.MSG_TRUNC) != 0 {
				for _, fd := range fds {
					syscall.Close(fd)
				}
				continue // malformed: what was attached is dropped
			}
			return binary.BigEndian.Uint64(buf[:8]), fds[0], nil
		}
	}
	return newFDChannel(recv, uc.Close), nil
}

func unixRights(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if r, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, r...)
		}
	}
	return fds
}

// adoptFD checks that a received descriptor is what the plugin announced
// and wraps it. A pipe is made non-blocking so that Close releases a
// blocked Read.
func adoptFD(fd int, pipe bool) (*os.File, error) {
	var st syscall.Stat_t
	err := syscall.Fstat(fd, &st)
	want, what := uint32(syscall.S_IFREG), "a regular file"
	if pipe {
		want, what = syscall.S_IFIFO, "a pipe"
	}
	if err == nil && st.Mode&syscall.S_IFMT != want {
		err = fmt.Errorf("the descriptor handed over is not %s", what)
	}
	if err == nil && pipe {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "plugin-object"), nil
}

func closeFD(fd int) { syscall.Close(fd) }

// fdSenderFromEnv returns the plugin's end of the descriptor channel, or
// nil when the node gave none (an older node, or a plugin run by hand).
// The variable is removed so that the backend's own children do not see
// it; the descriptor becomes close-on-exec.
func fdSenderFromEnv() *fdSender {
	v, ok := os.LookupEnv(fdChannelEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(fdChannelEnv)
	n, err := strconv.Atoi(v)
	if err != nil || n < 3 {
		return nil
	}
	f := os.NewFile(uintptr(n), "fd-channel")
	c, err := net.FileConn(f) // a close-on-exec duplicate
	f.Close()
	if err != nil {
		return nil
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil
	}
	return &fdSender{conn: uc}
}

// send passes f to the host under id. One message per descriptor, so
// concurrent sends do not interleave.
func (s *fdSender) send(id uint64, f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	var serr error
	if err := sc.Control(func(fd uintptr) {
		_, _, serr = s.conn.WriteMsgUnix(b[:], syscall.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return serr
}

// newPipe makes a pipe whose buffer holds a chunk where the kernel allows.
func newPipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	if sc, err := w.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			// Best effort: a smaller pipe is slower, not wrong.
			syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, pipeSize)
		})
	}
	return r, w, nil
}

package api

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// uploadConn manages an upload's connection deadlines in place of the
// server's read and write timeouts, which would cut any upload longer than
// them: every read of the body moves the read deadline forward, so a slow
// but steady upload goes on while a stalled one is still cut, and the write
// deadline is set when the answer is ready, however long the backend took.
type uploadConn struct {
	rc       *http.ResponseController
	idle     time.Duration
	last     atomic.Int64 // unix nanos of the last extension
	bodyDone atomic.Bool
}

func newUploadConn(w http.ResponseWriter, idle time.Duration) *uploadConn {
	return &uploadConn{rc: http.NewResponseController(w), idle: idle}
}

// reading pushes the read deadline idle ahead, at most once per tenth of
// idle.
func (c *uploadConn) reading() {
	now := time.Now()
	if c.bodyDone.Load() || now.UnixNano()-c.last.Load() < int64(c.idle/10) {
		return
	}
	c.last.Store(now.UnixNano())
	// Not every ResponseWriter supports deadlines (httptest's recorder).
	_ = c.rc.SetReadDeadline(now.Add(c.idle))
}

// readAll is called when the body is read to its end. The server then
// reads the idle connection to notice the client leaving, and cancels the
// request's context if that read fails, so it must have no deadline while
// the node finishes with the backend (net/http clears it; a deadline set by
// reading would stay).
func (c *uploadConn) readAll() {
	if !c.bodyDone.Swap(true) {
		_ = c.rc.SetReadDeadline(time.Time{})
	}
}

// answering gives the answer idle to be written.
func (c *uploadConn) answering() {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.idle))
}

// progressBody moves the read deadline as the body is read.
type progressBody struct {
	io.ReadCloser
	conn *uploadConn
}

func (p *progressBody) Read(b []byte) (int, error) {
	p.conn.reading()
	n, err := p.ReadCloser.Read(b)
	if errors.Is(err, io.EOF) {
		p.conn.readAll()
	}
	return n, err
}

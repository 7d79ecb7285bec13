package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// UploadLimits bound what uploads may cost beyond the upload class's
// admission (which bounds uploads in flight per client and in all).
type UploadLimits struct {
	// MinRate is the slowest an upload body may arrive, in bytes per
	// second, averaged over each Grace-long window after the first; a body
	// slower than that is cut (408). Zero disables the check. Without it
	// an upload trickling a byte a second is never idle and stays forever.
	MinRate int64
	// Grace is the window MinRate is measured over.
	Grace time.Duration
	// BufferBytes is the memory all uploads together may hold (a small
	// file waiting for the encrypt field, a message field). When it is
	// used up, a file is streamed to the backend encrypted instead (the
	// path large files take) and a field is refused with 503. Zero means
	// no budget (tests); the node always sets one.
	BufferBytes int64
}

func (l UploadLimits) validate() error {
	if l.MinRate < 0 || l.BufferBytes < 0 || l.MinRate > 0 && l.Grace <= 0 {
		return errors.New("api: UploadLimits needs MinRate >= 0 (with a positive Grace) and BufferBytes >= 0")
	}
	return nil
}

// byteBudget is a node-wide count of bytes that may be held in memory.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

func newByteBudget(max int64) *byteBudget { return &byteBudget{max: max} }

func (b *byteBudget) take(n int64) bool {
	if b.max <= 0 {
		b.used.Add(n)
		return true
	}
	for {
		used := b.used.Load()
		if used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (b *byteBudget) give(n int64) { b.used.Add(-n) }

// heldBytes is one upload's share of the budget, given back when the
// request ends, whatever path it took.
type heldBytes struct {
	budget *byteBudget
	mu     sync.Mutex
	n      int64
}

func (h *heldBytes) take(n int64) bool {
	if !h.budget.take(n) {
		return false
	}
	h.mu.Lock()
	h.n += n
	h.mu.Unlock()
	return true
}

func (h *heldBytes) release() {
	h.mu.Lock()
	n := h.n
	h.n = 0
	h.mu.Unlock()
	h.budget.give(n)
}

type heldKey struct{}

// heldChunk is how much of the budget is taken at a time.
const heldChunk = 32 << 10

// readHeld reads at most limit+1 bytes of r into memory, drawing each chunk
// from the node-wide budget first. fits reports that r ended within limit;
// when the budget runs out first, it returns what it read with fits unset
// and errBudget, and the caller streams the rest instead of holding it.
func (s *server) readHeld(ctx context.Context, r io.Reader, limit int64) (data []byte, fits bool, err error) {
	h, _ := ctx.Value(heldKey{}).(*heldBytes)
	if h == nil {
		h = &heldBytes{budget: s.buffers} // not through limitUpload: released at once below
		defer h.release()
	}
	buf := make([]byte, 0, min(limit+1, heldChunk))
	if !h.take(int64(cap(buf))) {
		return nil, false, errBudget
	}
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) {
			grow := min(int64(cap(buf)), limit+1-int64(cap(buf)))
			if !h.take(grow) {
				return buf, false, errBudget
			}
			buf = append(buf[:cap(buf)], make([]byte, grow)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

// errBudget reports that the node's upload buffer budget is used up.
var errBudget = errors.New("api: upload buffer budget used up")

func budgetExhausted() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Message: "the node is holding as much upload data as it may; retry later", Cause: errBudget, RetryAfter: 5}
}

// limitUpload wraps the upload handler with the upload limits: the body
// must keep a minimum rate, and the bytes it holds in memory come from the
// node-wide budget and go back when the request ends.
func (s *server) limitUpload(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := &heldBytes{budget: s.buffers}
		defer h.release()
		if l := s.cfg.UploadLimits; l.MinRate > 0 {
			r.Body = &rateBody{ReadCloser: r.Body, min: l.MinRate, window: l.Grace, start: time.Now()}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), heldKey{}, h)))
	}
}

// rateBody cuts a body that arrives slower than min bytes per second over a
// window, after the first window (the grace). The idle timeout alone never
// fires on a body that trickles a byte at a time; this does, within two
// windows plus the idle timeout. The check runs as reads return, so it
// costs a clock read per Read.
type rateBody struct {
	io.ReadCloser
	min    int64
	window time.Duration
	start  time.Time // of the current window
	n      int64     // bytes in the current window
	checks int       // windows ended
}

func (b *rateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil {
		return n, err
	}
	if now := time.Now(); now.Sub(b.start) >= b.window {
		elapsed := now.Sub(b.start)
		need := int64(float64(b.min) * elapsed.Seconds())
		if b.checks > 0 && b.n < need {
			return n, &Error{Status: http.StatusRequestTimeout,
				Message: fmt.Sprintf("upload too slow: %d bytes in the last %s, at least %d bytes/s are required", b.n, elapsed.Round(time.Second), b.min)}
		}
		b.checks++
		b.start, b.n = now, 0
	}
	return n, nil
}

// readHeldPart reads a text field of at most max_body_bytes, held from the
// node-wide budget: 503 when it is used up, 413 beyond the limit.
func (u *upload) readHeldPart(ctx context.Context, p interface {
	io.Reader
	FormName() string
}) (string, error) {
	limit := u.s.cfg.MaxBodyBytes
	b, fits, err := u.s.readHeld(ctx, p, limit)
	switch {
	case errors.Is(err, errBudget):
		return "", budgetExhausted()
	case err != nil:
		return "", bodyError(err)
	case !fits:
		return "", &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("field %q is larger than %d bytes", p.FormName(), limit)}
	}
	return string(b), nil
}

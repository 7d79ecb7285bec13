package auth

import (
	"container/heap"
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of [MemoryReplayStore].
const (
	// DefaultReplayEntries bounds the assertions remembered: with
	// five-minute assertions it sustains over 300 new assertions a second,
	// in about 20 MB.
	DefaultReplayEntries = 100_000
	// DefaultReplayPerClient bounds the assertions one client address may
	// have remembered at once.
	DefaultReplayPerClient = 5_000
)

// ReplayStore remembers used assertions, so that each is exchanged for a
// grant once, and a repeat of it gets that grant back rather than a new one.
type ReplayStore interface {
	// Begin starts the use of the assertion whose digest is key, by the
	// client address client ("" when unknown), to be remembered through
	// until. For a key not remembered it records the key and returns a
	// Ticket with First set: the caller must then call Ticket.Done. For a
	// key whose first use is done, it returns that use's Ticket (First
	// unset). For a key whose first use is in progress it waits for that use
	// to finish, or ctx. Errors wrap ErrReplayQuota when client holds its
	// share of the store. It is safe for concurrent use.
	Begin(ctx context.Context, key [32]byte, client string, now, until time.Time) (Ticket, error)
}

// Ticket is one use of an assertion.
type Ticket struct {
	// First is set for the first use, which must call Done.
	First bool
	// At is when the first use issued its grant; zero when First, or when
	// the first use gave nothing that may be repeated (a plain Verify).
	At time.Time

	done func(ok bool, at time.Time)
}

// Done ends a first use. ok records that a grant was issued at at (zero:
// the use may not be repeated); !ok forgets the key, because a use that
// failed gave nothing, and the client's retry of the same assertion (the
// SDK retries) is then a first use again.
func (t Ticket) Done(ok bool, at time.Time) {
	if t.done != nil {
		t.done(ok, at)
	}
}

// MemoryReplayStore is an in-memory [ReplayStore] of bounded size that one
// client cannot fill: each client address may hold at most its share, and
// when the store is full a new entry takes the place of the oldest entry of
// the client holding the most (never the newcomer's own, unless it is that
// client). So it never refuses everyone: a flood from one address is
// refused alone (429), and a flood from many addresses only shortens the
// memory of the heaviest ones. Entries are forgotten at their own expiry.
// Memory is bounded by the capacity. A node running several replicas needs a
// shared store instead, or replicas would each accept an assertion once.
type MemoryReplayStore struct {
	mu        sync.Mutex
	max       int
	perClient int
	entries   map[[32]byte]*replayEntry
	byTime    expiryHeap
	clients   map[string]*replayClient
	heavy     clientHeap
}

type replayEntry struct {
	key     [32]byte
	client  *replayClient
	until   time.Time
	at      time.Time
	settled bool
	done    chan struct{} // closed when settled or forgotten
	elem    *list.Element // in client.order
	idx     int           // in byTime
}

type replayClient struct {
	key   string
	order *list.List // of *replayEntry, oldest first
	idx   int        // in heavy
}

// NewMemoryReplayStore returns a store holding at most maxEntries unexpired
// assertions, at most perClient of them from one client address; values
// <= 0 select [DefaultReplayEntries] and [DefaultReplayPerClient] (capped
// at maxEntries).
func NewMemoryReplayStore(maxEntries, perClient int) *MemoryReplayStore {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayEntries
	}
	if perClient <= 0 {
		perClient = DefaultReplayPerClient
	}
	return &MemoryReplayStore{
		max:       maxEntries,
		perClient: min(perClient, maxEntries),
		entries:   make(map[[32]byte]*replayEntry),
		clients:   make(map[string]*replayClient),
	}
}

// Begin implements [ReplayStore].
func (m *MemoryReplayStore) Begin(ctx context.Context, key [32]byte, client string, now, until time.Time) (Ticket, error) {
	for {
		m.mu.Lock()
		m.prune(now)
		e, ok := m.entries[key]
		if ok && e.settled {
			at := e.at
			m.mu.Unlock()
			return Ticket{At: at}, nil
		}
		if ok {
			done := e.done
			m.mu.Unlock()
			select {
			case <-done:
				continue // settled or forgotten: look again
			case <-ctx.Done():
				return Ticket{}, ctx.Err()
			}
		}
		t, err := m.add(key, client, until)
		m.mu.Unlock()
		return t, err
	}
}

func (m *MemoryReplayStore) add(key [32]byte, clientKey string, until time.Time) (Ticket, error) {
	c := m.clients[clientKey]
	if c != nil && c.order.Len() >= m.perClient {
		return Ticket{}, fmt.Errorf("%w: %d unexpired assertions from this client", ErrReplayQuota, c.order.Len())
	}
	if len(m.entries) >= m.max {
		h := m.heavy[0]
		if c != nil && c.order.Len() >= h.order.Len() {
			return Ticket{}, fmt.Errorf("%w: the store is full and this client holds the most", ErrReplayQuota)
		}
		m.remove(h.order.Front().Value.(*replayEntry))
	}
	if c == nil {
		c = &replayClient{key: clientKey, order: list.New()}
		m.clients[clientKey] = c
		heap.Push(&m.heavy, c)
	}
	e := &replayEntry{key: key, client: c, until: until, done: make(chan struct{})}
	e.elem = c.order.PushBack(e)
	heap.Fix(&m.heavy, c.idx)
	m.entries[key] = e
	heap.Push(&m.byTime, e)
	return Ticket{First: true, done: func(ok bool, at time.Time) { m.settle(e, ok, at) }}, nil
}

func (m *MemoryReplayStore) settle(e *replayEntry, ok bool, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.settled {
		return
	}
	if m.entries[e.key] == e {
		if ok {
			e.settled, e.at = true, at
		} else {
			m.remove(e)
		}
	}
	select {
	case <-e.done:
	default:
		close(e.done)
	}
}

// remove forgets e everywhere and wakes anyone waiting on it.
func (m *MemoryReplayStore) remove(e *replayEntry) {
	delete(m.entries, e.key)
	heap.Remove(&m.byTime, e.idx)
	c := e.client
	c.order.Remove(e.elem)
	if c.order.Len() == 0 {
		heap.Remove(&m.heavy, c.idx)
		delete(m.clients, c.key)
	} else {
		heap.Fix(&m.heavy, c.idx)
	}
	if !e.settled {
		select {
		case <-e.done:
		default:
			close(e.done)
		}
	}
}

// Len returns the number of remembered entries, expired ones included until
// the next call to Begin prunes them.
func (m *MemoryReplayStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// ClientLen returns the entries remembered for client.
func (m *MemoryReplayStore) ClientLen(client string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[client]; c != nil {
		return c.order.Len()
	}
	return 0
}

// prune forgets entries whose until is before now, soonest first. An entry
// lives through its until instant because the verifier still accepts an
// assertion at exactly its last valid instant.
func (m *MemoryReplayStore) prune(now time.Time) {
	for len(m.byTime) > 0 && now.After(m.byTime[0].until) {
		m.remove(m.byTime[0])
	}
}

type expiryHeap []*replayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*replayEntry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// clientHeap is a max-heap of clients by entries held.
type clientHeap []*replayClient

func (h clientHeap) Len() int           { return len(h) }
func (h clientHeap) Less(i, j int) bool { return h[i].order.Len() > h[j].order.Len() }
func (h clientHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *clientHeap) Push(x any) {
	c := x.(*replayClient)
	c.idx = len(*h)
	*h = append(*h, c)
}
func (h *clientHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}

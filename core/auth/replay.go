package auth

import (
	"container/heap"
	"fmt"
	"sync"
	"time"
)

// DefaultReplayEntries is the default capacity of [MemoryReplayStore]: with
// one-hour assertions it sustains about 27 new assertions a second, in a few
// megabytes.
const DefaultReplayEntries = 100_000

// ReplayStore remembers accepted assertions so each is accepted once.
type ReplayStore interface {
	// Remember records key up to and including the time until. It returns an
	// error wrapping ErrReplayed when key is already recorded and until has
	// not passed at now, and one
	// wrapping ErrReplayStoreFull when it cannot record key without
	// forgetting an unexpired entry. It is safe for concurrent use; of two
	// concurrent calls with one key exactly one succeeds.
	Remember(key [32]byte, now, until time.Time) error
}

// MemoryReplayStore is an in-memory [ReplayStore] of bounded size. Entries
// are forgotten once they expire. When it is full of unexpired entries it
// refuses new keys rather than evicting old ones: evicting would reopen the
// replay window for an assertion that is still valid, so failing closed (the
// caller answers 503) is the safe choice. Memory is bounded by the capacity.
// A node running several replicas behind one address needs a shared store
// instead, or replicas would each accept the same assertion once.
type MemoryReplayStore struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]time.Time
	byTime  expiryHeap
}

// NewMemoryReplayStore returns a store holding at most maxEntries unexpired
// assertions; maxEntries <= 0 means [DefaultReplayEntries].
func NewMemoryReplayStore(maxEntries int) *MemoryReplayStore {
	if maxEntries <= 0 {
		maxEntries = DefaultReplayEntries
	}
	return &MemoryReplayStore{max: maxEntries, entries: make(map[[32]byte]time.Time)}
}

// Remember implements [ReplayStore].
func (m *MemoryReplayStore) Remember(key [32]byte, now, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	if exp, ok := m.entries[key]; ok && !now.After(exp) {
		return fmt.Errorf("%w (remembered until %s)", ErrReplayed, exp.UTC().Format(time.RFC3339))
	}
	if len(m.entries) >= m.max {
		return fmt.Errorf("%w: %d unexpired assertions", ErrReplayStoreFull, len(m.entries))
	}
	m.entries[key] = until
	heap.Push(&m.byTime, expiryEntry{key: key, until: until})
	return nil
}

// Len returns the number of remembered entries, expired ones included until
// the next call to Remember prunes them.
func (m *MemoryReplayStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// prune forgets entries whose until is before now, oldest first. An entry
// lives through its until instant because the verifier still accepts an
// assertion at exactly exp+leeway.
func (m *MemoryReplayStore) prune(now time.Time) {
	for len(m.byTime) > 0 && now.After(m.byTime[0].until) {
		e := heap.Pop(&m.byTime).(expiryEntry)
		if exp, ok := m.entries[e.key]; ok && exp.Equal(e.until) {
			delete(m.entries, e.key)
		}
	}
}

type expiryEntry struct {
	key   [32]byte
	until time.Time
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

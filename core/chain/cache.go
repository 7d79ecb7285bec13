package chain

import (
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// boundedMap is a concurrent map that forgets everything when it reaches
// its bound. It only holds facts that never change (a fulfilled condition,
// a created agreement), so forgetting costs a re-read, never a wrong answer;
// a full reset keeps it simpler than an LRU for a cache that rarely fills.
type boundedMap[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]V
	max int
}

func newBoundedMap[K comparable, V any](max int) *boundedMap[K, V] {
	return &boundedMap[K, V]{m: make(map[K]V), max: max}
}

func (b *boundedMap[K, V]) get(k K) (V, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, ok := b.m[k]
	return v, ok
}

func (b *boundedMap[K, V]) put(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[k] = v
}

// hashSet is a boundedMap used as a set of ids.
type hashSet = boundedMap[common.Hash, struct{}]

func newHashSet(max int) *hashSet { return newBoundedMap[common.Hash, struct{}](max) }

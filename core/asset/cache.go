package asset

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// CacheOptions configure a [Cache].
type CacheOptions struct {
	// TTL is how long an answer is served before the upstream is asked again.
	// Zero means one minute.
	TTL time.Duration
	// MaxEntries bounds the number of cached DDOs; the least recently used
	// is dropped first. Zero means 1024.
	MaxEntries int
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Cache remembers what an upstream resolver answered, for a while.
//
// Only DDOs are cached, never errors: a DID that is not found now may be
// published a second later, and a source that is down should be asked again.
// Concurrent misses for the same DID share one upstream call. The upstream
// call runs with the first caller's context detached from its cancellation
// (so the upstream must bound its own calls, as the marketplace client does),
// so that one impatient caller does not fail the others; each caller still
// stops waiting when its own context ends.
type Cache struct {
	upstream Resolver
	ttl      time.Duration
	max      int
	now      func() time.Time
	group    singleflight.Group

	mu       sync.Mutex
	items    map[DID]*list.Element
	lru      *list.List // front = most recently used; values are *cacheEntry
	inflight map[DID]*flight
}

// flight is one upstream lookup; Invalidate marks it stale so that its
// answer, possibly read before the change, is not cached.
type flight struct{ stale bool }

type cacheEntry struct {
	did     DID
	ddo     *DDO
	expires time.Time
}

// NewCache returns a cache in front of upstream.
func NewCache(upstream Resolver, opts CacheOptions) *Cache {
	if opts.TTL <= 0 {
		opts.TTL = time.Minute
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{
		upstream: upstream,
		ttl:      opts.TTL,
		max:      opts.MaxEntries,
		now:      opts.Now,
		items:    make(map[DID]*list.Element),
		lru:      list.New(),
		inflight: make(map[DID]*flight),
	}
}

// Resolve implements [Resolver].
func (c *Cache) Resolve(ctx context.Context, did DID) (*DDO, error) {
	if d, ok := c.get(did); ok {
		return d, nil
	}
	ch := c.group.DoChan(did.String(), func() (any, error) {
		f := &flight{}
		c.mu.Lock()
		c.inflight[did] = f
		c.mu.Unlock()
		d, err := c.upstream.Resolve(context.WithoutCancel(ctx), did)
		switch {
		case err != nil:
		case d == nil:
			err = fmt.Errorf("%w: %s: resolver returned no DDO and no error", ErrUnavailable, did)
		case d.ID != did:
			err = fmt.Errorf("%w: asked for %s, got the DDO of %s", ErrInvalidDDO, did, d.ID)
		}
		c.finish(did, f, d, err)
		if err != nil {
			return nil, err
		}
		return d, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*DDO), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Invalidate forgets did, so the next Resolve asks upstream. A lookup already
// in flight when Invalidate is called does not repopulate the cache.
func (c *Cache) Invalidate(did DID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.inflight[did]; ok {
		f.stale = true
	}
	if el, ok := c.items[did]; ok {
		c.lru.Remove(el)
		delete(c.items, did)
	}
	c.group.Forget(did.String())
}

// Len reports how many DDOs the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) get(did DID) (*DDO, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[did]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, did)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.ddo, true
}

// finish ends flight f: it caches d unless the lookup failed or was
// invalidated while it ran.
func (c *Cache) finish(did DID, f *flight, d *DDO, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight[did] == f {
		delete(c.inflight, did)
	}
	if err != nil || f.stale {
		return
	}
	e := &cacheEntry{did: did, ddo: d, expires: c.now().Add(c.ttl)}
	if el, ok := c.items[did]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.items[did] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).did)
	}
}

// Package admission decides whether the node takes on a request: per-client
// token buckets per route cost class, and bounds on the requests in flight
// per client and per class. It knows nothing of HTTP; core/api applies it
// as middleware and answers refusals 429 with Retry-After.
package admission

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Class is a route cost class: routes in one class cost the node about the
// same and share a budget.
type Class string

// The classes the API uses.
const (
	// ClassAuth: assertion exchanges (token issuance, metadata login). Each
	// costs a signature recovery and a replay-store entry, maybe a chain call.
	ClassAuth Class = "auth"
	// ClassSearch: DDO queries over the store.
	ClassSearch Class = "search"
	// ClassUpload: uploads; long-lived, they hold a connection and buffers.
	ClassUpload Class = "upload"
	// ClassEncrypt: /encrypt (an RSA or ECIES operation).
	ClassEncrypt Class = "encrypt"
	// ClassDownload: data endpoints that open storage objects.
	ClassDownload Class = "download"
	// ClassWrite: DDO writes and NFT transfers (state changes, transactions).
	ClassWrite Class = "write"
	// ClassRead: cheap reads (GET /, a DDO by id, docs).
	ClassRead Class = "read"
)

// Classes lists every class, for configuration and tests.
var Classes = []Class{ClassAuth, ClassSearch, ClassUpload, ClassEncrypt, ClassDownload, ClassWrite, ClassRead}

// Limits are one class's bounds. Zero means unlimited for each field.
type Limits struct {
	// Rate is the sustained requests per second one client may start.
	Rate float64
	// Burst is how many requests a client may start at once above Rate
	// (at least 1 when Rate is set).
	Burst int
	// PerClient bounds the requests of one client in flight at once.
	PerClient int
	// Total bounds the requests of every client in flight at once.
	Total int
}

// Config configures a [Limiter].
type Config struct {
	Classes map[Class]Limits
	// MaxClients bounds the idle clients whose buckets are remembered; the
	// least recently seen is forgotten first (it comes back with a full
	// bucket). Clients with requests in flight are always remembered; there
	// are at most the sum of the Total bounds of them. 0 means 10,000.
	MaxClients int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxClients is Config.MaxClients' default.
const DefaultMaxClients = 10_000

// Reason says why a request was refused; it is a metric label.
type Reason string

const (
	ReasonRate      Reason = "rate"
	ReasonPerClient Reason = "client_inflight"
	ReasonTotal     Reason = "total_inflight"
)

// ErrRefused is wrapped by every [*Refusal].
var ErrRefused = errors.New("admission: refused")

// Refusal is a request the limiter turned away.
type Refusal struct {
	Class  Class
	Reason Reason
	// RetryAfter is when trying again may succeed (at least one second).
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	switch r.Reason {
	case ReasonRate:
		return fmt.Sprintf("too many %s requests from this client; retry in %s", r.Class, r.RetryAfter)
	case ReasonPerClient:
		return fmt.Sprintf("too many %s requests from this client at once", r.Class)
	default:
		return fmt.Sprintf("the node is serving as many %s requests as it can", r.Class)
	}
}

func (r *Refusal) Unwrap() error { return ErrRefused }

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1.
func (r *Refusal) RetryAfterSeconds() int {
	s := int(math.Ceil(r.RetryAfter.Seconds()))
	return max(s, 1)
}

// Limiter is safe for concurrent use.
type Limiter struct {
	mu         sync.Mutex
	limits     map[Class]Limits
	maxClients int
	now        func() time.Time
	clients    map[string]*client
	idle       *list.List // of *client with nothing in flight, most recent first
	inflight   map[Class]int
}

type client struct {
	key      string
	buckets  map[Class]*rate.Limiter
	inflight map[Class]int
	busy     int
	elem     *list.Element // in idle while busy == 0
}

// New returns a Limiter for cfg.
func New(cfg Config) (*Limiter, error) {
	l := &Limiter{
		limits:     make(map[Class]Limits, len(cfg.Classes)),
		maxClients: cfg.MaxClients,
		now:        cfg.Now,
		clients:    make(map[string]*client),
		idle:       list.New(),
		inflight:   make(map[Class]int),
	}
	if l.maxClients == 0 {
		l.maxClients = DefaultMaxClients
	}
	if l.maxClients < 0 {
		return nil, errors.New("admission: MaxClients is negative")
	}
	if l.now == nil {
		l.now = time.Now
	}
	for c, lim := range cfg.Classes {
		if lim.Rate < 0 || lim.Burst < 0 || lim.PerClient < 0 || lim.Total < 0 || math.IsNaN(lim.Rate) || math.IsInf(lim.Rate, 0) {
			return nil, fmt.Errorf("admission: class %s: negative or non-finite limit", c)
		}
		if lim.Rate > 0 && lim.Burst == 0 {
			lim.Burst = 1
		}
		l.limits[c] = lim
	}
	return l, nil
}

// Admit decides whether client may start a request of class. On success
// the caller must call release once the request is done. A refusal is a
// *Refusal. Bounds are checked before the rate, so a request turned away
// for concurrency does not use up the client's bucket.
func (l *Limiter) Admit(clientKey string, class Class) (release func(), err error) {
	lim := l.limits[class]
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.client(clientKey)
	if lim.Total > 0 && l.inflight[class] >= lim.Total {
		return nil, &Refusal{Class: class, Reason: ReasonTotal, RetryAfter: time.Second}
	}
	if lim.PerClient > 0 && c.inflight[class] >= lim.PerClient {
		return nil, &Refusal{Class: class, Reason: ReasonPerClient, RetryAfter: time.Second}
	}
	if lim.Rate > 0 {
		b := c.buckets[class]
		if b == nil {
			b = rate.NewLimiter(rate.Limit(lim.Rate), lim.Burst)
			c.buckets[class] = b
		}
		now := l.now()
		r := b.ReserveN(now, 1)
		if d := r.DelayFrom(now); !r.OK() || d > 0 {
			r.CancelAt(now)
			return nil, &Refusal{Class: class, Reason: ReasonRate, RetryAfter: max(d, time.Second)}
		}
	}
	l.inflight[class]++
	c.inflight[class]++
	if c.busy == 0 && c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
	c.busy++
	var once sync.Once
	return func() { once.Do(func() { l.release(c, class) }) }, nil
}

func (l *Limiter) release(c *client, class Class) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight[class]--
	c.inflight[class]--
	c.busy--
	if c.busy == 0 {
		c.elem = l.idle.PushFront(c)
		l.trim()
	}
}

// client returns the record of key, creating it (and forgetting the least
// recently seen idle client beyond the bound) when needed.
func (l *Limiter) client(key string) *client {
	if c, ok := l.clients[key]; ok {
		if c.elem != nil {
			l.idle.MoveToFront(c.elem)
		}
		return c
	}
	c := &client{key: key, buckets: make(map[Class]*rate.Limiter, 2), inflight: make(map[Class]int, 2)}
	l.clients[key] = c
	c.elem = l.idle.PushFront(c)
	l.trim()
	return c
}

// trim forgets idle clients beyond maxClients, least recently seen first.
// The client being admitted is at the front, and maxClients is at least 1,
// so it is never the one dropped.
func (l *Limiter) trim() {
	for l.idle.Len() > l.maxClients {
		e := l.idle.Back()
		c := e.Value.(*client)
		l.idle.Remove(e)
		c.elem = nil
		delete(l.clients, c.key)
	}
}

// Clients returns how many clients are remembered (for tests and metrics).
func (l *Limiter) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// InFlight returns the requests of class in flight.
func (l *Limiter) InFlight(class Class) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight[class]
}

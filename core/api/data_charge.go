package api

import (
	"context"
	"sync"
	"time"
)

// maxChargeRecords bounds the memory of chargeLedger (about 200 bytes a
// record).
const maxChargeRecords = 100_000

// chargeLedger makes a credit charge happen once per download rather than
// once per request: one token (its jti), one file, one version of the file
// (its ETag). The requests of a resumed or split download, and repeats
// within the token's lifetime, are covered by the first charge; a new token
// or a changed file is charged again. The reference burns credits on every
// token issuance (SPEC 11.4), so one charge per token and file version is no
// cheaper than it.
//
// Records live in memory until the token expires. When the ledger is full
// of unexpired records a new download is charged without being recorded,
// so a flood costs the flooder, never the asset owner; nodes behind a load
// balancer each charge once, for the same reason.
//
// The zero value is ready to use.
type chargeLedger struct {
	mu      sync.Mutex
	records map[string]*chargeRecord
}

type chargeRecord struct {
	done    chan struct{} // closed once the charge settled
	err     error
	expires time.Time
}

// once runs charge unless a charge for key succeeded or is in flight (then it
// waits for that one and shares its outcome). A failed charge is forgotten,
// so the next request tries again.
func (l *chargeLedger) once(ctx context.Context, key string, expires time.Time, charge func() error) error {
	now := time.Now()
	l.mu.Lock()
	if l.records == nil {
		l.records = map[string]*chargeRecord{}
	}
	if rec, ok := l.records[key]; ok && now.Before(rec.expires) {
		l.mu.Unlock()
		select {
		case <-rec.done:
			return rec.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rec := &chargeRecord{done: make(chan struct{}), expires: expires}
	if len(l.records) >= maxChargeRecords {
		for k, r := range l.records {
			if !now.Before(r.expires) {
				delete(l.records, k)
			}
		}
	}
	recorded := len(l.records) < maxChargeRecords
	if recorded {
		l.records[key] = rec
	}
	l.mu.Unlock()

	rec.err = charge()
	if rec.err != nil && recorded {
		l.mu.Lock()
		if l.records[key] == rec {
			delete(l.records, key)
		}
		l.mu.Unlock()
	}
	close(rec.done)
	return rec.err
}

package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nvm-node/nvm-node/core/asset"
)

// ErrExists reports a create for a DID the store already holds.
var ErrExists = errors.New("store: DID already exists")

var (
	bucketDDO = []byte("ddo") // DID (32 bytes) -> seq (8 bytes) || DDO JSON
	bucketSeq = []byte("seq") // seq (8 bytes, big-endian) -> DID: publication order
)

// Options configure a [Store].
type Options struct {
	// OnChange is called after a create, update or delete has committed,
	// with the DID concerned. The node uses it to drop cached copies.
	OnChange func(asset.DID)
	// LockTimeout bounds the wait for the database file's lock, which another
	// process may hold. Zero means one second.
	LockTimeout time.Duration
}

// Store keeps DDOs in a bbolt database file. It is safe for concurrent use.
type Store struct {
	db       *bolt.DB
	onChange func(asset.DID)
}

// Open opens or creates the store's database file at path (mode 0600).
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketDDO, bucketSeq} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: initialising %s: %w", path, err)
	}
	onChange := opts.OnChange
	if onChange == nil {
		onChange = func(asset.DID) {}
	}
	return &Store{db: db, onChange: onChange}, nil
}

// Close closes the database file.
func (s *Store) Close() error { return s.db.Close() }

// Create stores a new DDO. A DDO with the same DID already stored is
// ErrExists; nothing is written then.
func (s *Store) Create(ctx context.Context, d *asset.DDO) error {
	if err := check(ctx, d); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ddos := tx.Bucket(bucketDDO)
		if ddos.Get(d.ID[:]) != nil {
			return fmt.Errorf("%w: %s", ErrExists, d.ID)
		}
		seqs := tx.Bucket(bucketSeq)
		n, err := seqs.NextSequence()
		if err != nil {
			return err
		}
		var seq [8]byte
		binary.BigEndian.PutUint64(seq[:], n)
		if err := seqs.Put(seq[:], d.ID[:]); err != nil {
			return err
		}
		return ddos.Put(d.ID[:], append(seq[:], d.Raw()...))
	})
	if err != nil {
		return err
	}
	s.onChange(d.ID)
	return nil
}

// Update replaces the stored DDO with the same DID, keeping its place in the
// publication order. A DID not stored is asset.ErrNotFound.
func (s *Store) Update(ctx context.Context, d *asset.DDO) error {
	if err := check(ctx, d); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ddos := tx.Bucket(bucketDDO)
		old := ddos.Get(d.ID[:])
		if old == nil {
			return fmt.Errorf("%w: %s", asset.ErrNotFound, d.ID)
		}
		v := make([]byte, 0, 8+len(d.Raw()))
		v = append(append(v, old[:8]...), d.Raw()...)
		return ddos.Put(d.ID[:], v)
	})
	if err != nil {
		return err
	}
	s.onChange(d.ID)
	return nil
}

// check refuses a cancelled request and a DDO that did not come from
// asset.DecodeDDO (which has no document to store).
func check(ctx context.Context, d *asset.DDO) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d == nil || len(d.Raw()) == 0 || d.ID.IsZero() {
		return fmt.Errorf("%w: only decoded DDOs can be stored", asset.ErrInvalidDDO)
	}
	return nil
}

// Delete removes the DDO of did. A DID not stored is asset.ErrNotFound.
func (s *Store) Delete(ctx context.Context, did asset.DID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ddos := tx.Bucket(bucketDDO)
		old := ddos.Get(did[:])
		if old == nil {
			return fmt.Errorf("%w: %s", asset.ErrNotFound, did)
		}
		if err := tx.Bucket(bucketSeq).Delete(old[:8]); err != nil {
			return err
		}
		return ddos.Delete(did[:])
	})
	if err != nil {
		return err
	}
	s.onChange(did)
	return nil
}

// Resolve implements asset.Resolver.
func (s *Store) Resolve(ctx context.Context, did asset.DID) (*asset.DDO, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var raw []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDDO).Get(did[:])
		if v == nil {
			return fmt.Errorf("%w: %s", asset.ErrNotFound, did)
		}
		// bbolt's memory is valid only inside the transaction.
		raw = append([]byte(nil), v[8:]...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d, err := asset.DecodeDDO(raw)
	if err != nil {
		return nil, fmt.Errorf("store: stored DDO of %s no longer decodes: %w", did, err)
	}
	return d, nil
}

// Count reports how many DDOs the store holds.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSeq).Stats().KeyN
		return nil
	})
	return n, err
}

// each calls fn with every stored document in publication order, stopping
// at the first error. raw is a copy fn may keep.
func (s *Store) each(ctx context.Context, fn func(raw []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		ddos := tx.Bucket(bucketDDO)
		c := tx.Bucket(bucketSeq).Cursor()
		for k, did := c.First(); k != nil; k, did = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v := ddos.Get(did)
			if v == nil {
				continue
			}
			if err := fn(append([]byte(nil), v[8:]...)); err != nil {
				return err
			}
		}
		return nil
	})
}

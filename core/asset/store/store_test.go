package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nvm-node/nvm-node/core/asset"
)

func TestCRUD(t *testing.T) {
	var changed []asset.DID
	var mu sync.Mutex
	s, _ := openStore(t, Options{OnChange: func(d asset.DID) { mu.Lock(); changed = append(changed, d); mu.Unlock() }})
	ctx := context.Background()
	d := fixtureDDO(t, "ddo-access.json")

	if _, err := s.Resolve(ctx, d.ID); !errors.Is(err, asset.ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	mustCreate(t, s, d)
	got, err := s.Resolve(ctx, d.ID)
	if err != nil || !bytes.Equal(got.Raw(), d.Raw()) {
		t.Fatalf("Resolve after Create: %v", err)
	}
	if err := s.Create(ctx, d); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v", err)
	}
	// An update replaces the document; the new bytes come back.
	updated, err := asset.DecodeDDO(bytes.Replace(d.Raw(), []byte("UK weather 2011"), []byte("UK weather 2011 (revised)"), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, updated); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Resolve(ctx, d.ID)
	if !bytes.Contains(got.Raw(), []byte("(revised)")) {
		t.Fatal("update not visible")
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Fatalf("Count = %d", n)
	}
	other := fixtureDDO(t, "ddo-nft721.json")
	if err := s.Update(ctx, other); !errors.Is(err, asset.ErrNotFound) {
		t.Fatalf("Update of an absent DID: %v", err)
	}
	if err := s.Delete(ctx, other.ID); !errors.Is(err, asset.ErrNotFound) {
		t.Fatalf("Delete of an absent DID: %v", err)
	}
	if err := s.Delete(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, d.ID); !errors.Is(err, asset.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("Count after delete = %d", n)
	}
	// The DID can be published again after a delete.
	mustCreate(t, s, d)
	mu.Lock()
	defer mu.Unlock()
	if len(changed) != 4 { // create, update, delete, create; failures do not notify
		t.Fatalf("OnChange called %d times: %v", len(changed), changed)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	s, path := openStore(t, Options{})
	var want []*asset.DDO
	for _, f := range fixtures {
		d := fixtureDDO(t, f)
		mustCreate(t, s, d)
		want = append(want, d)
	}
	if err := s.Delete(context.Background(), want[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ctx := context.Background()
	for i, d := range want {
		got, err := s2.Resolve(ctx, d.ID)
		if i == 1 {
			if !errors.Is(err, asset.ErrNotFound) {
				t.Fatalf("deleted DDO came back: %v", err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got.Raw(), d.Raw()) {
			t.Fatalf("%s after reopen: %v", d.ID, err)
		}
	}
	// Publication order survives too.
	p, err := s2.Search(ctx, queryAll())
	if err != nil || p.Total != 2 || !bytes.Equal(p.Results[0], want[0].Raw()) || !bytes.Equal(p.Results[1], want[2].Raw()) {
		t.Fatalf("order after reopen: %+v, %v", p, err)
	}
}

func TestOpenLockedFile(t *testing.T) {
	_, path := openStore(t, Options{})
	// bbolt locks the file: a second opener waits LockTimeout, then fails
	// instead of corrupting it.
	if s, err := Open(path, Options{LockTimeout: 50_000_000}); err == nil {
		s.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
}

func TestConcurrentWriters(t *testing.T) {
	s, _ := openStore(t, Options{})
	ctx := context.Background()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d := synthDDO(t, w*each+i, owner1, fmt.Sprintf("w%d-%d", w, i), "2026-01-01T00:00:00Z")
				if err := s.Create(ctx, d); err != nil {
					errs <- err
				}
			}
		})
	}
	// Racing creates of one DID: exactly one wins.
	contested := synthDDO(t, 100000, owner1, "contested", "2026-01-01T00:00:00Z")
	var wins sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for range 10 {
		wins.Go(func() {
			err := s.Create(ctx, contested)
			switch {
			case err == nil:
				mu.Lock()
				winners++
				mu.Unlock()
			case !errors.Is(err, ErrExists):
				errs <- err
			}
		})
	}
	wg.Wait()
	wins.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if winners != 1 {
		t.Fatalf("%d creates of the same DID succeeded", winners)
	}
	n, err := s.Count(ctx)
	if err != nil || n != writers*each+1 {
		t.Fatalf("Count = %d, %v; want %d", n, err, writers*each+1)
	}
	for w := range writers {
		for i := range each {
			id := synthDDO(t, w*each+i, owner1, "", "").ID
			if _, err := s.Resolve(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := openStore(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := fixtureDDO(t, "ddo-access.json")
	if err := s.Create(ctx, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.Resolve(ctx, d.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("Resolve: %v", err)
	}
	if n, _ := s.Count(context.Background()); n != 0 {
		t.Fatal("cancelled create wrote")
	}
}

func BenchmarkStoreGet(b *testing.B) {
	s, _ := openStore(b, Options{})
	d := fixtureDDO(b, "ddo-nft1155.json")
	mustCreate(b, s, d)
	fill(b, s, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.SetBytes(int64(len(d.Raw())))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Resolve(ctx, d.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkStoreCreate(b *testing.B) {
	s, _ := openStore(b, Options{})
	ctx := context.Background()
	docs := make([]*asset.DDO, b.N)
	for i := range docs {
		docs[i] = synthDDO(b, i, owner1, "bench", "2026-01-01T00:00:00Z")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Create(ctx, docs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStoreRefusesUndecodedDDO(t *testing.T) {
	s, _ := openStore(t, Options{})
	for _, d := range []*asset.DDO{nil, {}, {ID: fixtureDDO(t, "ddo-access.json").ID}} {
		if err := s.Create(context.Background(), d); !errors.Is(err, asset.ErrInvalidDDO) {
			t.Errorf("Create(%v) = %v", d, err)
		}
		if err := s.Update(context.Background(), d); !errors.Is(err, asset.ErrInvalidDDO) {
			t.Errorf("Update(%v) = %v", d, err)
		}
	}
}

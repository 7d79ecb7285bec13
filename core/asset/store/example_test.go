package store_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
	"github.com/nvm-node/nvm-node/core/asset/store"
)

// The node's resolution path: its own store first, then the marketplace,
// behind a cache that store writes invalidate.
func Example() {
	dir, _ := os.MkdirTemp("", "nvm-example")
	defer os.RemoveAll(dir)

	var cache *asset.Cache
	own, err := store.Open(filepath.Join(dir, "metadata.db"), store.Options{
		OnChange: func(did asset.DID) { cache.Invalidate(did) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer own.Close()

	// The store also serves the marketplace API, so the SDK can publish to
	// the node (here on a test server; the node mounts it with Routes).
	srv := httptest.NewServer(own.Handler(store.HandlerOptions{Guard: store.AllowAll{}}))
	defer srv.Close()

	market, err := marketplace.New(srv.URL, marketplace.Options{}) // MARKETPLACE_URI
	if err != nil {
		log.Fatal(err)
	}
	cache = asset.NewCache(asset.Chain{own, market}, asset.CacheOptions{})

	doc, _ := os.ReadFile(filepath.Join("..", "testdata", "ddo-access.json"))
	ddo, err := asset.DecodeDDO(doc)
	if err != nil {
		log.Fatal(err)
	}
	if err := own.Create(context.Background(), ddo); err != nil {
		log.Fatal(err)
	}

	got, err := cache.Resolve(context.Background(), ddo.ID)
	if err != nil {
		log.Fatal(err)
	}
	files, _ := got.Files()
	method, _ := got.DecryptionMethod()
	amounts, _ := got.ConditionParam(asset.ServiceAccess, "escrowPayment", "_amounts")
	list, _ := amounts.Strings()
	fmt.Println(len(files), "files,", method, "; escrow amounts", list)
	// Output: 2 files, PSK-RSA ; escrow amounts [9500000000000000000 500000000000000000]
}

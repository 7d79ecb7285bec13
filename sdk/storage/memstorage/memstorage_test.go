package memstorage_test

import (
	"testing"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			b := memstorage.New()
			if err := b.Configure(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			return b
		},
		HoldsData:    true,
		Unconfigured: func(*testing.T) storage.Backend { return memstorage.New() },
		BadConfig:    plugin.Config(`{"maxBytes":-1}`),
	})
}

package rpcplugin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

// signingStore presigns only once configured with a key, and says so in
// its Info only then (as storage-gcs does).
type signingStore struct {
	*memstorage.Backend
	signing bool
}

func (s *signingStore) Info(ctx context.Context) (plugin.Info, error) {
	i, err := s.Backend.Info(ctx)
	if s.signing {
		i.Capabilities = append(i.Capabilities, storage.CapPresign)
	}
	return i, err
}

func (s *signingStore) Configure(ctx context.Context, cfg plugin.Config) error {
	s.signing = strings.Contains(string(cfg), "key")
	return s.Backend.Configure(ctx, plugin.Config("{}"))
}

func (s *signingStore) Presign(_ context.Context, key string, opts storage.PresignOptions) (string, error) {
	if !s.signing {
		return "", errors.ErrUnsupported
	}
	return "https://signed.example/" + key + "?m=" + opts.Method, nil
}

// TestInfoReadAfterConfigure: a capability the plugin gains with its
// configuration is seen through the process runtime, because the client
// reads Info again after Configure.
func TestInfoReadAfterConfigure(t *testing.T) {
	for _, tc := range []struct {
		cfg     string
		presign bool
	}{{`{"key":"k"}`, true}, {`{}`, false}} {
		b := inMemory(t, &signingStore{Backend: memstorage.New()})
		before, _ := b.Info(t.Context())
		if before.Has(storage.CapPresign) {
			t.Fatal("the plugin declared presign before any configuration")
		}
		configure(t, b, tc.cfg)
		after, _ := b.Info(t.Context())
		if after.Has(storage.CapPresign) != tc.presign {
			t.Fatalf("config %s: Info after Configure has presign %v, want %v", tc.cfg, after.Has(storage.CapPresign), tc.presign)
		}
		u, err := b.(storage.Presigner).Presign(t.Context(), "obj", storage.PresignOptions{Method: http.MethodGet, Expires: time.Minute})
		switch {
		case tc.presign && (err != nil || u != "https://signed.example/obj?m=GET"):
			t.Errorf("configured with a key: Presign = %q, %v", u, err)
		case !tc.presign && !errors.Is(err, errors.ErrUnsupported):
			t.Errorf("without a key: Presign err %v, want ErrUnsupported", err)
		}
	}
}

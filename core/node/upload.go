package node

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/pluginhost"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// uploadConfig makes every loaded storage plugin an upload target under its
// name (storage.s3 answers /upload/s3, the SDK's name), with its first URL
// prefix; plugins without storage.write are listed so that clients are told
// they are read-only rather than unknown.
func uploadConfig(ctx context.Context, cfg *config.Config, host *pluginhost.Host) (api.UploadConfig, error) {
	up := api.UploadConfig{
		Targets:      map[string]api.UploadTarget{},
		MaxBytes:     cfg.Upload.MaxBytes,
		RequireLogin: cfg.Upload.Access == config.UploadLogin,
		IdleTimeout:  cfg.Upload.IdleTimeout,
	}
	for _, a := range cfg.Upload.Uploaders {
		up.Uploaders = append(up.Uploaders, common.HexToAddress(a))
	}
	for _, e := range cfg.Plugins {
		b, ok := host.Storage(e.ID)
		if !ok {
			continue
		}
		prefixes := e.URLPrefixes()
		if len(prefixes) == 0 {
			continue
		}
		info, err := b.Info(ctx)
		if err != nil {
			return api.UploadConfig{}, fmt.Errorf("plugin %s: info: %w", e.ID, err)
		}
		up.Targets[e.Name()] = api.UploadTarget{Backend: b, URLPrefix: prefixes[0], Writable: info.Has(storage.CapWrite)}
	}
	for alias, name := range cfg.Upload.Aliases {
		t, ok := up.Targets[name]
		if _, taken := up.Targets[alias]; taken || !ok {
			// A plugin of that name wins over an alias; an alias to a
			// plugin that is not loaded answers "not supported" as any
			// unknown name.
			continue
		}
		up.Targets[alias] = t
	}
	return up, nil
}

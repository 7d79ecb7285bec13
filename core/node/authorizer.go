package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/authz"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/keys"
)

// lazyAuthorizer connects to the chain on first use and keeps the
// connection, so that a node whose chain is down at start still starts
// (GET / and downloads with existing tokens work) and authorizes as soon as
// the chain answers. Until then decisions fail with chain.ErrUnavailable.
type lazyAuthorizer struct {
	cfg      *config.Config
	keys     *keys.Keyring
	resolver asset.Resolver
	audit    *slog.Logger

	mu     sync.Mutex
	client *chain.Client
	z      *authz.Authorizer
}

func (l *lazyAuthorizer) Authorize(ctx context.Context, a *auth.Assertion) error {
	z, err := l.get(ctx)
	if err != nil {
		return err
	}
	return z.Authorize(ctx, a)
}

// TransferNFT implements api.NFTSeller.
func (l *lazyAuthorizer) TransferNFT(ctx context.Context, r authz.TransferRequest) ([]chain.Fulfilment, error) {
	z, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return z.TransferNFT(ctx, r)
}

// ChargeCredits implements api.Charger.
func (l *lazyAuthorizer) ChargeCredits(ctx context.Context, grantee common.Address, did asset.DID, ddo *asset.DDO) (common.Hash, error) {
	z, err := l.get(ctx)
	if err != nil {
		return common.Hash{}, err
	}
	return z.ChargeCredits(ctx, grantee, did, ddo)
}

// MetadataURL implements asset.MetadataURLSource: the DDO URL the DID
// registry records, so DDOs published elsewhere resolve too.
func (l *lazyAuthorizer) MetadataURL(ctx context.Context, did asset.DID) (string, error) {
	if _, err := l.get(ctx); err != nil {
		return "", fmt.Errorf("%w: %w", asset.ErrUnavailable, err)
	}
	u, err := l.client.MetadataURL(ctx, common.Hash(did))
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %w", asset.ErrUnavailable, err)
	case u == "":
		return "", fmt.Errorf("%w: %s is not registered on chain", asset.ErrNotFound, did)
	}
	return u, nil
}

func (l *lazyAuthorizer) get(ctx context.Context) (*authz.Authorizer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.z != nil {
		return l.z, nil
	}
	c, err := chain.Dial(ctx, chain.Config{
		RPCURL:          l.cfg.Chain.RPCURL,
		ChainID:         l.cfg.Chain.ChainID,
		ArtifactsFolder: l.cfg.Chain.ArtifactsFolder,
		CallTimeout:     l.cfg.Chain.RequestTimeout,
		Logger:          l.audit,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: connecting for authorization: %w", chain.ErrUnavailable, err)
	}
	sender := c.NewSender(l.keys.PrivateKey())
	z, err := authz.New(authz.Config{
		Chain:    c,
		Provider: chain.NewProvider(sender),
		Sender:   sender,
		Resolver: l.resolver,
		Audit:    l.audit,
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	l.client, l.z = c, z
	return z, nil
}

func (l *lazyAuthorizer) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.client != nil {
		l.client.Close()
	}
}

package asset

import (
	"context"
	"errors"
	"fmt"
)

// Resolver finds the DDO of a DID. Implementations return an error wrapping
// ErrNotFound when they do not know the DID, ErrUnavailable when they could
// not find out, and ErrInvalidDDO when what they found is not a usable DDO.
// A returned DDO's ID equals the DID asked for.
type Resolver interface {
	Resolve(ctx context.Context, did DID) (*DDO, error)
}

// ResolverFunc adapts a function to [Resolver].
type ResolverFunc func(ctx context.Context, did DID) (*DDO, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, did DID) (*DDO, error) { return f(ctx, did) }

// Chain asks its resolvers in order and returns the first DDO found. A
// resolver that does not know the DID, or cannot be reached, passes the
// question on; any other error (an invalid DDO, a cancelled context) ends the
// search, because the answer would otherwise depend on which source happens
// to be down.
//
// When nobody finds the DID the error wraps ErrUnavailable if any resolver
// was unavailable (the asset may exist), else ErrNotFound.
type Chain []Resolver

// Resolve implements [Resolver].
func (c Chain) Resolve(ctx context.Context, did DID) (*DDO, error) {
	var unavailable error
	for _, r := range c {
		d, err := r.Resolve(ctx, did)
		if err == nil && d == nil {
			err = fmt.Errorf("%w: %s: resolver returned no DDO and no error", ErrUnavailable, did)
		}
		switch {
		case err == nil:
			return d, nil
		case errors.Is(err, ErrNotFound):
			continue
		case errors.Is(err, ErrUnavailable) && ctx.Err() == nil:
			if unavailable == nil {
				unavailable = err
			}
			continue
		default:
			return nil, err
		}
	}
	if unavailable != nil {
		return nil, unavailable
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, did)
}

// MetadataURLSource gives the metadata URL a DID is registered with on chain
// (DIDRegistry.getDIDRegister's url, SPEC 5.1). It returns an error wrapping
// ErrNotFound when the DID is not registered or has no URL. The chain package
// implements it.
type MetadataURLSource interface {
	MetadataURL(ctx context.Context, did DID) (string, error)
}

// DDOFetcher fetches the DDO document at a URL and checks that it describes
// did. The marketplace client implements it.
type DDOFetcher interface {
	FetchDDO(ctx context.Context, url string, did DID) (*DDO, error)
}

// RegistryResolver resolves through the DID registry: it asks Source for the
// DID's metadata URL and Fetcher for the document there.
//
// The URL is chosen by whoever registered the DID, so Fetcher must be safe
// against URLs that point inside the node's network (see
// marketplace.Options.AllowPrivate).
type RegistryResolver struct {
	Source  MetadataURLSource
	Fetcher DDOFetcher
}

// Resolve implements [Resolver].
func (r RegistryResolver) Resolve(ctx context.Context, did DID) (*DDO, error) {
	u, err := r.Source.MetadataURL(ctx, did)
	if err != nil {
		return nil, err
	}
	return r.Fetcher.FetchDDO(ctx, u, did)
}

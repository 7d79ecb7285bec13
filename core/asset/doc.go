// Package asset is everything the node knows about assets: DIDs, DDO documents
// and how to find the DDO of a DID.
//
// A [DID] is the 32-byte asset identifier; it reads and writes the
// `did:nv:<64 hex>` form clients use and the 0x-prefixed bytes32 form the
// contracts use. A [DDO] is a decoded DDO document: the bytes exactly as
// received (so a document round-trips unchanged, unknown fields included) plus
// typed views of the parts the node reads (services, files, agreement
// conditions, the authorization service), with lookup helpers.
//
// Finding a DDO goes through a [Resolver]. [Chain] asks several in turn (the
// node's own store, a marketplace API, the DID registry's metadata URL) and
// [Cache] keeps answers for a while, merging concurrent misses into one
// upstream call. The marketplace client lives in [asset/marketplace], the
// node-hosted store and its marketplace-compatible HTTP API in [asset/store].
//
// Errors are values to test with errors.Is: [ErrInvalidDID] and
// [ErrInvalidDDO] mean the input was bad (a 4xx for the caller),
// [ErrNotFound] that no source knows the DID, [ErrUnavailable] that a source
// could not be asked (a 5xx, worth a retry), [ErrNoService] and friends that a
// DDO lacks something an operation needs.
//
// A *DDO handed out by this package may be shared between goroutines and
// cached: treat it as read-only.
package asset

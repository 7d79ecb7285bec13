// Package store is the node's own metadata store: DDOs kept in an embedded
// database file, served over the marketplace API routes the SDK publishes to
// and resolves from, so that `node dev` needs no other service.
//
// Persistence is bbolt (go.etcd.io/bbolt), chosen over SQLite because the
// store is a key-value map from DID to document with an insertion order:
// bbolt is a small pure-Go library with serialisable read-write transactions
// and lock-free readers, compiles in seconds, and has no SQL layer to keep in
// step. Searches scan every document; that is fine for a node's own assets
// (thousands), not for a public catalogue, which belongs in a real marketplace.
//
// [Store] implements asset.Resolver. [Store.Handler] (or [Store.Routes] on a
// caller's chi router) serves:
//
//	POST   /api/v1/metadata/assets/ddo              create; 201 with the stored DDO, 409 if the id exists
//	GET    /api/v1/metadata/assets/ddo              list, paginated (offset = page size, page from 1)
//	GET    /api/v1/metadata/assets/ddo/query        same, with ?text= / ?query=
//	POST   /api/v1/metadata/assets/ddo/query        search: {query, text, offset, page, sort, show_unlisted}
//	GET    /api/v1/metadata/assets/ddo/{did}        200 DDO or 404
//	PUT    /api/v1/metadata/assets/ddo/{did}        replace; 200 with the stored DDO, 404 if absent
//	DELETE /api/v1/metadata/assets/ddo/{did}        200, 404 if absent
//	GET    /api/v1/metadata/profiles/address/{a}    a profile derived from the address
//	POST   /api/v1/auth/login                       client assertion -> bearer token (see [Guard])
//
// Who may write is the [Guard]'s decision. [AllowAll] lets anyone write and
// is for development only; [OwnerGuard] issues tokens for verified client
// assertions and lets only the DDO's owner create, replace or delete it.
package store

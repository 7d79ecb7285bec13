// Package marketplace speaks the Nevermined marketplace (metadata) API: the
// HTTP API where publishers store DDOs and the node resolves them
// (`GET {MARKETPLACE_URI}/api/v1/metadata/assets/ddo/{did}`, SPEC 5.1).
//
// [Client] is the node's side: it resolves DIDs, fetches DDOs from the
// metadata URLs the DID registry holds, searches, and reads user profiles,
// with timeouts, size limits and errors that wrap the asset package's
// sentinels. The wire types ([QueryRequest], [QueryResponse], [Profile]) are
// shared with the node-hosted implementation of the same API in asset/store.
package marketplace

// Package sdk is everything a third-party nvm-node plugin author imports: the
// storage and compute backend interfaces, their conformance suites, and the
// runtimes that serve a backend as a go-plugin process or a WASM module.
//
// It is its own Go module and imports nothing from the node's core, so a
// plugin author depends on a small, stable surface.
package sdk

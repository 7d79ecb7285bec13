// Package wasmguest serves a storage.Backend from a WebAssembly module
// that the node runs with its wasm runtime (wazero). A plugin is a main
// package that registers its backend at init time:
//
//	package main
//
//	import "github.com/nvm-node/nvm-node/sdk/wasmguest"
//
//	func init() { wasmguest.ServeStorage(mybackend.New()) }
//
//	func main() {}
//
// built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// The node calls the module's exports (see sdk/internal/wasmabi for the
// ABI) one at a time, so the backend sees no concurrent calls, except that
// a Put's Backend.Put runs in its own goroutine while the node pushes the
// object's chunks. The backend's context is not cancelled by the node:
// when a call's context ends or its time limit passes, the node stops the
// whole instance and starts a fresh one, which Configure sets up again.
// Anything kept only in the module's memory is then lost, so a backend
// should keep its data in a directory granted in plugins.yaml.
//
// The module gets no files, network, environment or arguments beyond what
// plugins.yaml grants; stdout and stderr go to the node's log.
//
// Only storage backends are served for now; compute over WASM is planned.
package wasmguest

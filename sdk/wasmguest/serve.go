package wasmguest

import (
	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// srv is the backend the module's exports serve. It is package state
// because WebAssembly exports are package-level functions with no receiver
// to hang it on; ServeStorage sets it once, at init time.
var srv *server

// ServeStorage makes b the backend this module serves. Call it from an
// init function of the plugin's main package: a module built with
// -buildmode=c-shared runs package initialisation but never main.main.
// A second call replaces the first.
func ServeStorage(b storage.Backend) { srv = newServer(b) }

// ServeCompute makes b the compute backend this module serves, like
// ServeStorage. The node runs b's goroutines only while it is inside the
// module: see the package documentation for what that means for jobs.
func ServeCompute(b compute.Backend) { srv = newComputeServer(b) }

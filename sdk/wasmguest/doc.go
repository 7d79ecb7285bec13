// Package wasmguest serves a storage.Backend or a compute.Backend from a
// WebAssembly module that the node runs with its wasm runtime (wazero). A
// plugin is a main package that registers its backend at init time:
//
//	package main
//
//	import "github.com/nvm-node/nvm-node/sdk/wasmguest"
//
//	func init() { wasmguest.ServeStorage(mybackend.New()) } // or ServeCompute
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
// # Compute
//
// WASI preview 1 has no threads, and a module's goroutines run only while
// the node is inside one of its exports. A compute backend is written as
// usual — Submit starts the job in a goroutine and returns — and the node
// gives the module's goroutines time in steps: while the module has jobs
// that are not final, the node calls it to run them for a couple of
// milliseconds at a time, at once again if they were busy, after a pause
// of up to 20ms if they were all waiting (timers inside the module fire
// with that granularity). Other calls (Status, List...) answer at once
// between steps; Stop and Close wait for the job's code to return, as
// they do outside WASM. Three consequences for job code:
//
//   - Nothing preempts it inside the module: code that computes for long
//     must call runtime.Gosched now and then (or block, on a channel or a
//     timer), or the step lasts until limits.call_timeout (30s when not
//     set) stops the instance.
//   - A job's data lives in module memory unless it is written to a
//     granted directory; when the node replaces a failed instance, its jobs
//     are gone, and their ids report compute.ErrJobNotFound wrapped with
//     plugin.ErrUnavailable.
//   - Logs and results are streamed without ever blocking the module: a
//     followed log of a running job is polled by the node.
//
// # Network
//
// A module has no sockets. It reaches the hosts granted in grants.hosts
// of plugins.yaml over HTTP and HTTPS through the node, with the ordinary
// net/http API:
//
//	client := wasmguest.HTTPClient() // or &http.Client{Transport: wasmguest.Transport{}}
//	resp, err := client.Get("https://api.example.org/v1/thing")
//
// A grant is a host ("api.example.org", "10.0.0.5", "[2001:db8::1]"),
// which allows ports 80 and 443, or host:port ("127.0.0.1:9000"), which
// allows exactly that port; there are no wildcards. The node checks the
// URL's host before sending, every redirect (which it follows itself) and
// the address it dials; anything else fails with an error wrapping
// storage.ErrPermission that names the host. Bodies stream both ways in
// pieces. A request blocks the module until the node has the answer, and
// is bounded by the node's call it runs in (its caller's context or
// limits.call_timeout), which aborts it when it ends. At most 16 response
// bodies may be open at once: close them. See Transport.
//
// The module gets no files, network, environment or arguments beyond what
// plugins.yaml grants; stdout and stderr go to the node's log.
package wasmguest

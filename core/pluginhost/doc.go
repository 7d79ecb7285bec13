// Package pluginhost turns the entries of plugins.yaml into the SDK's
// backend interfaces (storage.Backend, compute.Backend), whatever runtime
// each entry names: builtin (compiled in), process (a binary speaking
// sdk/rpcplugin) or wasm (a WebAssembly module built with sdk/wasmguest,
// run by wazero).
//
// The rest of the node holds only the interfaces. For process plugins the
// Host interposes a supervisor: a crashed process is restarted on the next
// call, with exponential backoff between attempts and a circuit breaker
// that fails calls fast after repeated crashes; calls in flight when a
// process dies fail with an error wrapping plugin.ErrUnavailable that names
// the plugin. Processes die with the node (see sdk/rpcplugin).
//
// A WASM module gets nothing by default: no files but the folders of its
// grants.dirs, no network (grants.hosts is refused), no environment, and
// limits.memory (default 256MiB) of memory. Its sha256 is checked before it
// compiles; compiled code is cached (Options.WASMCacheDir). A call that
// outlives its context or limits.call_timeout stops the module; an instance
// that traps, exits or is stopped is discarded and the next call starts and
// configures a fresh one, counted as a crash in the plugin's metrics. A
// compute module's jobs run in steps the Host drives while it has active
// jobs, each bounded by limits.call_timeout (see sdk/wasmguest).
package pluginhost

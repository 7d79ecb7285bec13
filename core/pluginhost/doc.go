// Package pluginhost turns the entries of plugins.yaml into the SDK's
// backend interfaces (storage.Backend, compute.Backend), whatever runtime
// each entry names: builtin (compiled in), process (a binary speaking
// sdk/rpcplugin) or wasm (not available yet; such entries are refused with
// an error wrapping errors.ErrUnsupported).
//
// The rest of the node holds only the interfaces. For process plugins the
// Host interposes a supervisor: a crashed process is restarted on the next
// call, with exponential backoff between attempts and a circuit breaker
// that fails calls fast after repeated crashes; calls in flight when a
// process dies fail with an error wrapping plugin.ErrUnavailable that names
// the plugin. Processes die with the node (see sdk/rpcplugin).
package pluginhost

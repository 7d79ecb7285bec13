// Package rpcplugin runs a storage or compute backend as a separate process
// and gives the node a client that implements the same interface.
//
// # For plugin authors
//
// A process plugin is a main package that builds its backend and calls
// Serve:
//
//	func main() { rpcplugin.Serve(mybackend.New()) }
//
// The binary then speaks the node's protocol (hashicorp/go-plugin over gRPC
// with mutual TLS set up automatically) when the node starts it, and prints
// its Info as JSON when run as `plugin describe`. Anything it logs to
// stderr reaches the node's log, tagged with the plugin id; JSON lines (as
// written by slog.NewJSONHandler or hclog) keep their level and fields.
// The plugin does not inherit the node's environment.
//
// # For the node
//
// Start verifies a plugin binary's sha256, starts it, negotiates the
// protocol version, checks the kind's API version and returns a Process
// whose Backend is a storage.Backend or compute.Backend. Errors keep their
// sentinels (errors.Is) and typed errors (errors.As) across the process
// boundary; failures of the process itself wrap plugin.ErrUnavailable and
// name the plugin. Closing the Backend closes the remote backend and stops
// the process. The process is also killed if the node dies: by the kernel
// on Linux (parent-death signal), and by the plugin itself elsewhere when
// it notices it has been orphaned.
//
// Streams travel in chunks of ChunkSize bytes, so memory stays bounded
// whatever the object size.
//
// # Fast Gets: descriptor passing
//
// On Linux the bytes of a storage Get do not travel over gRPC. The node
// gives the plugin one end of a socket pair when it starts it (inherited,
// so no other process can reach it), and the plugin answers a Get there
// with a file descriptor:
//
//   - when the reader returned by the backend's Get is a local file (an
//     *os.File, an *io.SectionReader over one, or a reader implementing
//     FileSection), the plugin hands over the file
//     itself and closes its reader; the node reads the section with pread,
//     at page-cache speed, and no longer needs the plugin for this read;
//   - otherwise the plugin hands over the read end of a pipe and copies the
//     reader into it; the Get's gRPC stream then ends with the status that
//     tells a clean end from a failure, as it would after chunks.
//
// Nothing changes for the backend author, except that returning the
// *os.File (or a FileSection) for local data is what makes Gets fast. The
// object info, errors (storage.ErrNotFound...), ranges and cancellation
// behave as with chunks: closing the node's reader closes its descriptor,
// which stops the plugin's writer with EPIPE, and cancels the stream's
// context. A plugin killed while it fills a pipe fails the read with
// plugin.ErrUnavailable naming it. The two sides negotiate per Get: the
// node offers a descriptor id, and a plugin without the channel (an older
// SDK, another system) ignores it and streams chunks.
package rpcplugin

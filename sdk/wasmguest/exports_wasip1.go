//go:build wasip1

package wasmguest

import (
	"unsafe"

	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
)

// The module's exports: thin shims over server, which holds the logic and
// is tested natively.

//go:wasmexport nvm_abi_version
func abiVersion() int32 { return wasmabi.Version }

//go:wasmexport nvm_buffer
func buffer(size int32) uint32 {
	if size < 0 {
		return 0
	}
	b := served().buffer(max(int(size), 1))
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport nvm_call
func call(op, handle, n int32) uint64 {
	out := served().call(wasmabi.Op(op), uint32(handle), int(n))
	return wasmabi.Pack(uint32(uintptr(unsafe.Pointer(&out[0]))), uint32(len(out)))
}

// served returns srv, or a server without a backend (which fails every
// call with a readable error) when the module forgot ServeStorage. The
// buffers must stay referenced from srv while the host reads them.
func served() *server {
	if srv == nil {
		srv = newServer(nil)
	}
	return srv
}

//go:build wasip1

package wasmguest

import "unsafe"

//go:wasmimport nvm_http request
func nvmHTTPRequest(req, reqLen, out, outCap uint32) uint64

//go:wasmimport nvm_http write
func nvmHTTPWrite(h, p, n, out, outCap uint32) uint64

//go:wasmimport nvm_http response
func nvmHTTPResponse(h, out, outCap uint32) uint64

//go:wasmimport nvm_http read
func nvmHTTPRead(h, p, n, out, outCap uint32) uint64

//go:wasmimport nvm_http close
func nvmHTTPClose(h uint32)

// wasiHTTP calls the node's nvm_http functions.
type wasiHTTP struct{}

func nodeHTTP() httpHost { return wasiHTTP{} }

// ptr is the address of b's first byte in the module's memory; b is never
// empty here.
func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

func (wasiHTTP) request(req, out []byte) uint64 {
	return nvmHTTPRequest(ptr(req), uint32(len(req)), ptr(out), uint32(len(out)))
}

func (wasiHTTP) write(h uint32, p, out []byte) uint64 {
	return nvmHTTPWrite(h, ptr(p), uint32(len(p)), ptr(out), uint32(len(out)))
}

func (wasiHTTP) response(h uint32, out []byte) uint64 {
	return nvmHTTPResponse(h, ptr(out), uint32(len(out)))
}

func (wasiHTTP) read(h uint32, p, out []byte) uint64 {
	return nvmHTTPRead(h, ptr(p), uint32(len(p)), ptr(out), uint32(len(out)))
}

func (wasiHTTP) close(h uint32) { nvmHTTPClose(h) }

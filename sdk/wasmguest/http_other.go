//go:build !wasip1

package wasmguest

// nodeHTTP is nil outside a module: there is no node to ask.
func nodeHTTP() httpHost { return nil }

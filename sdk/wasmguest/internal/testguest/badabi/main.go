// Command badabi is a test module that claims an ABI version the node
// does not speak, to check that the node refuses it with a readable error.
package main

//go:wasmexport nvm_abi_version
func abiVersion() int32 { return 99 }

func main() {}

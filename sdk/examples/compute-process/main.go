// Command compute-process serves the in-memory compute backend
// ("compute.memory") as a process plugin: the smallest complete compute
// plugin, used by the SDK's tests to run the compute conformance suite
// through a real process.
package main

import (
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
)

func main() { rpcplugin.Serve(memcompute.New()) }

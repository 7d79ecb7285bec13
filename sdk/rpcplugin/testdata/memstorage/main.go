// Command memstorage serves the in-memory storage backend as a process
// plugin. Its Get readers are not files, so it exercises the pipe path of
// descriptor passing.
package main

import (
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

func main() { rpcplugin.Serve(memstorage.New()) }

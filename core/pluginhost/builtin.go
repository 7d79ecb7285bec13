package pluginhost

import (
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

// Factory makes a new, unconfigured builtin backend.
type Factory func() plugin.Plugin

// Builtins returns the backends compiled into the node, by plugin id. The
// reference backends live in the SDK so plugin authors can read them and
// run them through the same conformance suites.
func Builtins() map[string]Factory {
	return map[string]Factory{
		"storage.local":  func() plugin.Plugin { return localstorage.New() },
		"storage.memory": func() plugin.Plugin { return memstorage.New() },
		"compute.memory": func() plugin.Plugin { return memcompute.New() },
	}
}

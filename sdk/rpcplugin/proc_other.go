//go:build !linux

package rpcplugin

import (
	"os"
	"os/exec"
)

// execPath runs the binary by path: without /proc the file cannot be
// executed from its descriptor.
func execPath(_ *os.File, path string) string { return path }

// setDeathSignal does nothing: the plugin's orphan watch stops it.
func setDeathSignal(*exec.Cmd) {}

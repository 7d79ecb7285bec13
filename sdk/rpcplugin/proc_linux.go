package rpcplugin

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// execPath runs the verified open file itself, through /proc.
func execPath(f *os.File, path string) string {
	p := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if _, err := os.Stat(p); err != nil {
		return path
	}
	return p
}

// setDeathSignal has the kernel kill the plugin when the node dies.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

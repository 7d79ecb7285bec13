// Command node runs an nvm-node: a Nevermined Node that authorizes consumers
// on-chain and serves, computes on and stores publishers' data.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nvm-node/nvm-node/core/config"
)

// version is this build's version, reported by `node version` and GET /.
const version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Stdout, os.Stderr, os.Environ()).ExecuteContext(ctx)
	stop()
	if err != nil {
		printErr(os.Stderr, err)
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 on success, 2 for configuration problems (as the reference
// node exits on invalid configuration), 1 otherwise.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, config.ErrInvalid):
		return 2
	default:
		return 1
	}
}

// printErr writes an error for a person: configuration problems one per line.
func printErr(w io.Writer, err error) {
	fmt.Fprintln(w, "node:", err)
}

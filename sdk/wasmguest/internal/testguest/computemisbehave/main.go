// Command computemisbehave is a test module: "compute.misbehave", the
// in-memory compute backend with jobs and calls that misbehave on request.
//
// Jobs, by Algorithm.Ref (besides memcompute's echo, sleep and fail):
//
//	spin   computes forever without yielding (the step timeout must stop it)
//	hog    allocates until the module's memory limit is hit
//	tick   logs "tick N" every 5ms until stopped, waiting on a timer
//
// Calls, by JobSpec.Name of a Submit: "submit-loop" spins in Submit
// itself, "submit-hog" allocates there, "submit-panic" panics. Build with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/wasmguest"
)

type backend struct{ *memcompute.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.Name = "misbehave"
	return i, err
}

// sink keeps the hog's allocations reachable so the collector cannot free them.
var sink [][]byte

func hog() {
	for {
		sink = append(sink, make([]byte, 1<<20))
	}
}

// counter is what spin increments, so the loop is not optimised away.
var counter int

func (b backend) Submit(ctx context.Context, spec compute.JobSpec) (compute.JobID, error) {
	switch spec.Name {
	case "submit-loop":
		for {
			counter++
		}
	case "submit-hog":
		hog()
	case "submit-panic":
		panic("asked to panic")
	}
	return b.Backend.Submit(ctx, spec)
}

func init() {
	wasmguest.ServeCompute(backend{memcompute.New(
		memcompute.WithFunc("spin", func(context.Context, *memcompute.Job) error {
			for {
				counter++
			}
		}),
		memcompute.WithFunc("hog", func(context.Context, *memcompute.Job) error {
			hog()
			return nil
		}),
		memcompute.WithFunc("tick", func(ctx context.Context, j *memcompute.Job) error {
			for i := 0; ; i++ {
				fmt.Fprintf(j.Log, "tick %d\n", i)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}),
	)})
}

func main() {}

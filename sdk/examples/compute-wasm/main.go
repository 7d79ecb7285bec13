// Command compute-wasm is an example compute plugin built as a WebAssembly
// module: "compute.wasm-example", the in-memory compute backend
// (memcompute: jobs "echo", "sleep" and "fail") served by wasmguest, plus
// a "wordcount" job that counts the words of its arguments into each
// declared output. It shows the shape of a compute module; its jobs live
// in module memory, so they are lost when the node replaces the instance.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o compute-example.wasm ./examples/compute-wasm
//	sha256sum compute-example.wasm
package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/wasmguest"
)

// backend is memcompute under another name.
type backend struct{ *memcompute.Backend }

func (b backend) Info(ctx context.Context) (plugin.Info, error) {
	i, err := b.Backend.Info(ctx)
	i.Name, i.Version = "wasm-example", "v0.1.0"
	return i, err
}

// wordcount counts words. A job's code runs only while the node steps the
// module, and cannot be preempted there: a long computation calls
// runtime.Gosched now and then so that the step ends in time.
func wordcount(ctx context.Context, j *memcompute.Job) error {
	words := 0
	for i, a := range j.Spec.Args {
		words += len(strings.Fields(a))
		if i%1024 == 1023 {
			runtime.Gosched()
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(j.Log, "%d words in %d arguments\n", words, len(j.Spec.Args))
	for _, o := range j.Spec.Outputs {
		if err := j.WriteOutput(o.Name, fmt.Appendf(nil, "%d\n", words)); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	wasmguest.ServeCompute(backend{memcompute.New(memcompute.WithFunc("wordcount", wordcount))})
}

func main() {}

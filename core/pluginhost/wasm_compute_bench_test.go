package pluginhost

import (
	"context"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
)

// computeBenchHosts loads the in-memory compute backend as a builtin and,
// through the example module, as WASM: the two differ only by runtime.
func computeBenchHosts(b *testing.B) map[string]compute.Backend {
	e := exampleComputeWASM(b)
	h := New(Options{Logger: quietLogger(), WASMCacheDir: wasmCacheDir(b)})
	if err := h.Load(context.Background(), []Entry{{ID: "compute.memory", Runtime: RuntimeBuiltin}, e}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	builtin, _ := h.Compute("compute.memory")
	wasm, _ := h.Compute(e.ID)
	return map[string]compute.Backend{"builtin": builtin, "wasm": wasm}
}

// roundTrip submits the echo job and polls Status until it is final.
func roundTrip(b *testing.B, be compute.Backend) compute.JobID {
	ctx := context.Background()
	id, err := be.Submit(ctx, memcompute.SucceedingSpec())
	if err != nil {
		b.Fatal(err)
	}
	for {
		st, err := be.Status(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if st.State.Final() {
			if st.State != compute.StateSucceeded {
				b.Fatalf("job ended %s: %s", st.State, st.Message)
			}
			return id
		}
	}
}

// BenchmarkWASMComputeStatus measures a trivial call: Status of a finished
// job, builtin and through the WASM module.
func BenchmarkWASMComputeStatus(b *testing.B) {
	for _, rt := range []string{"builtin", "wasm"} {
		be := computeBenchHosts(b)[rt]
		id := roundTrip(b, be)
		b.Run(rt, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Status(context.Background(), id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWASMComputeRoundTrip measures Submit of the echo job, then
// Status polled until the job is done.
func BenchmarkWASMComputeRoundTrip(b *testing.B) {
	for _, rt := range []string{"builtin", "wasm"} {
		be := computeBenchHosts(b)[rt]
		b.Run(rt, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(b, be)
			}
		})
	}
}

// BenchmarkWASMComputeStatusBusy measures Status while a job keeps the
// module busy (a running job the host steps between calls).
func BenchmarkWASMComputeStatusBusy(b *testing.B) {
	be := computeBenchHosts(b)["wasm"]
	id := roundTrip(b, be)
	running, err := be.Submit(context.Background(), memcompute.RunningSpec())
	if err != nil {
		b.Fatal(err)
	}
	defer be.Stop(context.Background(), running)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Status(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
}

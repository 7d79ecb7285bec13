package memcompute_test

import (
	"testing"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/computetest"
)

func TestConformance(t *testing.T) {
	computetest.Run(t, computetest.Options{
		New: func(t *testing.T) compute.Backend {
			b := memcompute.New()
			if err := b.Configure(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			return b
		},
		Succeeding: memcompute.SucceedingSpec,
		Running:    memcompute.RunningSpec,
		Failing:    memcompute.FailingSpec,
	})
}

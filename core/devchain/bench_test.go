package devchain_test

import (
	"context"
	"testing"

	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
	"github.com/nvm-node/nvm-node/core/devchain"
)

// BenchmarkStartFresh measures Start on an empty data directory: genesis,
// node start, deployment of the 31 contracts with initialization and wiring,
// artifacts. Run with -benchtime=5x; each iteration is a whole chain.
func BenchmarkStartFresh(b *testing.B) {
	set := contractstest.Set(b)
	ctx := context.Background()
	for b.Loop() {
		c, err := devchain.Start(ctx, devchain.Config{DataDir: b.TempDir(), Contracts: set})
		if err != nil {
			b.Fatal(err)
		}
		if !c.Deployed() {
			b.Fatal("did not deploy")
		}
		if err := c.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestart measures Start on a data directory that already holds a
// deployment: open the database, check the code at every address, rewrite
// the artifacts.
func BenchmarkRestart(b *testing.B) {
	set := contractstest.Set(b)
	ctx := context.Background()
	dir := b.TempDir()
	c, err := devchain.Start(ctx, devchain.Config{DataDir: dir, Contracts: set})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := devchain.Start(ctx, devchain.Config{DataDir: dir, Contracts: set})
		if err != nil {
			b.Fatal(err)
		}
		if c.Deployed() {
			b.Fatal("redeployed")
		}
		if err := c.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

package devchain_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
	"github.com/nvm-node/nvm-node/core/devchain"
)

// Start a chain with the Nevermined contracts, funding the reference node's
// provider account, and point a node at its RPC URL and artifacts folder.
func Example() {
	ctx := context.Background()
	root, err := contracts.RepoRoot(".")
	if err != nil {
		log.Fatal(err)
	}
	path, err := contracts.Locate(root) // after tools/contracts/build.sh
	if err != nil {
		log.Fatal(err)
	}
	set, err := contracts.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	chain, err := devchain.Start(ctx, devchain.Config{
		DataDir:      os.ExpandEnv("$HOME/.nvm-dev/chain"),
		Contracts:    set,
		FundAccounts: []common.Address{common.HexToAddress("0x068Ed00cF0441e4829D9784fCBe7b9e26D4BD8d0")},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer chain.Close(ctx)
	fmt.Println("WEB3_PROVIDER_URL=" + chain.RPCURL())
	fmt.Println("ARTIFACTS_FOLDER=" + chain.ArtifactsDir())
}

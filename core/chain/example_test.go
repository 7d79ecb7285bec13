package chain_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"log"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
)

// The access service's on-chain step as the API runs it: the payment is
// checked before anything is sent, each fulfilment is reported for the audit
// log, and the error decides the HTTP answer.
func ExampleProvider_ProcessAccess() {
	var providerKey *ecdsa.PrivateKey // keys.Keyring.PrivateKey()
	ctx := context.Background()
	c, err := chain.Dial(ctx, chain.Config{RPCURL: "http://127.0.0.1:8545", ArtifactsFolder: "/artifacts", LogChunk: 1000})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	provider := chain.NewProvider(c.NewSender(providerKey))

	fs, err := provider.ProcessAccess(ctx, chain.AccessOrder{
		AgreementID: common.HexToHash("0x…agreement id (token sub)"),
		DID:         common.HexToHash("0x…asset DID"),
		Consumer:    common.HexToAddress("0x…token issuer"),
		Price:       chain.Price{Amounts: []*big.Int{big.NewInt(1e18)}, Receivers: []common.Address{common.HexToAddress("0x…publisher")}},
	})
	switch {
	case errors.Is(err, chain.ErrUnavailable):
		// 503 + Retry-After
	case errors.Is(err, chain.ErrNotPaid), errors.Is(err, chain.ErrNoAgreement),
		errors.Is(err, chain.ErrAgreementMismatch), errors.Is(err, chain.ErrConditionAborted):
		// 401: the assertion does not authorize access
	case err != nil:
		// 500
	}
	for _, f := range fs {
		log.Printf("%s %s tx=%s already=%v", f.Condition, f.ID, f.Tx, f.AlreadyFulfilled)
	}
}

package chain_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
)

// TestNFTSale runs nft-transfer (SPEC 4.8) on ERC-1155 (transfer and mint)
// and ERC-721: the buyer locks the price, the node moves the NFT and
// releases the escrow to the publisher; a retry sends nothing.
func TestNFTSale(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	price := chain.Price{Amounts: []*big.Int{ether(20)}, Receivers: []common.Address{e.publisher.Address()}}
	tokenID := func(did common.Hash) *big.Int { return new(big.Int).SetBytes(did[:]) }

	for _, tc := range []struct {
		name     string
		erc721   bool
		transfer bool
		amount   int64
	}{
		{"1155 transfer", false, true, 3},
		{"1155 mint", false, false, 2},
		{"721 transfer", true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := seedOf("sale asset " + tc.name)
			m := chain.MintableDID{Seed: seed, Checksum: seed, Providers: []common.Address{e.node.Address()},
				URL: "http://localhost/nft", Cap: big.NewInt(10), Mint: tc.transfer}
			var did common.Hash
			var err error
			if tc.erc721 {
				did, _, err = e.c.RegisterMintableDID721(ctx, e.publisher, m)
			} else {
				did, _, err = e.c.RegisterMintableDID(ctx, e.publisher, m)
			}
			if err != nil {
				t.Fatalf("register: %v", err)
			}
			sale := chain.NFTSale{DID: did, ERC721: tc.erc721, Holder: e.publisher.Address(), Receiver: e.consumer.Address(),
				Amount: big.NewInt(tc.amount), Transfer: tc.transfer, Price: price}
			ag, err := e.c.OrderNFT(ctx, e.consumer, seedOf("sale "+tc.name), sale)
			if err != nil {
				t.Fatalf("OrderNFT: %v", err)
			}
			sale.AgreementID = ag.ID
			a, err := e.c.Agreement(ctx, ag.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.ConditionIDs) != 3 || a.ConditionIDs[0] != ag.IDs.Lock || a.ConditionIDs[1] != ag.IDs.Transfer || a.ConditionIDs[2] != ag.IDs.Escrow {
				t.Fatalf("template computed other ids: %v, want %+v", a.ConditionIDs, ag.IDs)
			}

			// Another amount than the buyer's is refused without a transaction.
			before := e.nonce(e.node.Address())
			wrong := sale
			wrong.Amount = big.NewInt(tc.amount + 1)
			_, err = e.provider.ProcessNFTSale(ctx, wrong)
			mustErrIs(t, err, chain.ErrAgreementMismatch)
			if e.nonce(e.node.Address()) != before {
				t.Fatal("a mismatched sale sent a transaction")
			}

			pubBefore := e.balance(common.Address{}, e.publisher.Address())
			fs, err := e.provider.ProcessNFTSale(ctx, sale)
			if err != nil {
				t.Fatalf("ProcessNFTSale: %v", err)
			}
			if len(fs) != 2 || fs[0].Tx == (common.Hash{}) || fs[1].Tx == (common.Hash{}) {
				t.Fatalf("fulfilments %+v", fs)
			}
			if tc.erc721 {
				owner, err := e.c.NFT721Owner(ctx, common.Address{}, tokenID(did))
				if err != nil || owner != e.consumer.Address() {
					t.Fatalf("token owner %s, %v", owner, err)
				}
			} else {
				got, err := e.c.NFT1155Balance(ctx, common.Address{}, e.consumer.Address(), tokenID(did))
				if err != nil || got.Int64() != tc.amount {
					t.Fatalf("buyer holds %s editions, want %d (%v)", got, tc.amount, err)
				}
			}
			if got := new(big.Int).Sub(e.balance(common.Address{}, e.publisher.Address()), pubBefore); got.Cmp(price.Amounts[0]) != 0 {
				t.Fatalf("publisher received %s, want %s", got, price.Amounts[0])
			}
			after := e.nonce(e.node.Address())
			fs, err = e.provider.ProcessNFTSale(ctx, sale)
			if err != nil || !fs[0].AlreadyFulfilled || !fs[1].AlreadyFulfilled || e.nonce(e.node.Address()) != after {
				t.Fatalf("retry: %+v, %v", fs, err)
			}
		})
	}
}

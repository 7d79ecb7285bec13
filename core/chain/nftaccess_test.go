package chain_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
)

// TestNFTAccess runs the nft-access flow (SPEC 4.6, the intended
// BaseTemplate flow) on ERC-1155 and ERC-721: a buyer of the NFT proves it
// holds it and the node grants access; a consumer without the NFT cannot
// prove it and gets nothing.
func TestNFTAccess(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	stranger := e.c.NewSender(e.other.Key)

	for _, tc := range []struct {
		name   string
		erc721 bool
		amount int64
	}{{"1155", false, 2}, {"721", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			seed := seedOf("nft access asset " + tc.name)
			m := chain.MintableDID{Seed: seed, Checksum: seed, Providers: []common.Address{e.node.Address()}, Cap: big.NewInt(10), Mint: true}
			var did common.Hash
			var err error
			if tc.erc721 {
				did, _, err = e.c.RegisterMintableDID721(ctx, e.publisher, m)
			} else {
				did, _, err = e.c.RegisterMintableDID(ctx, e.publisher, m)
			}
			if err != nil {
				t.Fatal(err)
			}
			// The consumer buys the NFT.
			sale := chain.NFTSale{DID: did, ERC721: tc.erc721, Holder: e.publisher.Address(), Receiver: e.consumer.Address(),
				Amount: big.NewInt(tc.amount), Transfer: true, Price: price}
			ag, err := e.c.OrderNFT(ctx, e.consumer, seedOf("buy "+tc.name), sale)
			if err != nil {
				t.Fatal(err)
			}
			sale.AgreementID = ag.ID
			if _, err := e.provider.ProcessNFTSale(ctx, sale); err != nil {
				t.Fatal(err)
			}

			hasAccess := func(who common.Address) bool {
				t.Helper()
				var ok bool
				var err error
				if tc.erc721 {
					ok, err = e.c.HasAccess(ctx, who, did)
				} else {
					ok, err = e.c.HasNFTAccess(ctx, who, did)
				}
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if hasAccess(e.consumer.Address()) {
				t.Fatal("access before the nft-access agreement")
			}
			order := chain.NFTAccessOrder{DID: did, ERC721: tc.erc721, Amount: big.NewInt(tc.amount)}

			// Without the NFTs, the holder condition cannot be fulfilled.
			if _, err := e.c.OrderNFTAccess(ctx, stranger, seedOf("try "+tc.name), order, true); err == nil {
				t.Fatal("a stranger fulfilled the holder condition")
			}
			strangerAg, err := e.c.OrderNFTAccess(ctx, stranger, seedOf("try2 "+tc.name), order, false)
			if err != nil {
				t.Fatal(err)
			}
			before := e.nonce(e.node.Address())
			so := order
			so.AgreementID, so.Consumer = strangerAg.ID, stranger.Address()
			_, err = e.provider.ProcessNFTAccess(ctx, so)
			mustErrIs(t, err, chain.ErrNotHolder)
			if e.nonce(e.node.Address()) != before {
				t.Fatal("node sent a transaction for a non-holder")
			}

			// The holder proves it and the node grants access, once.
			cag, err := e.c.OrderNFTAccess(ctx, e.consumer, seedOf("access "+tc.name), order, true)
			if err != nil {
				t.Fatalf("OrderNFTAccess: %v", err)
			}
			a, err := e.c.Agreement(ctx, cag.ID)
			if err != nil || len(a.ConditionIDs) != 2 || a.ConditionIDs[0] != cag.IDs.Holder || a.ConditionIDs[1] != cag.IDs.Access {
				t.Fatalf("agreement %+v (%v), want ids %+v", a, err, cag.IDs)
			}
			co := order
			co.AgreementID, co.Consumer = cag.ID, e.consumer.Address()
			f, err := e.provider.ProcessNFTAccess(ctx, co)
			if err != nil || f.Tx == (common.Hash{}) {
				t.Fatalf("ProcessNFTAccess: %+v, %v", f, err)
			}
			if !hasAccess(e.consumer.Address()) {
				t.Fatal("no access after fulfilment")
			}
			if f, err := e.provider.ProcessNFTAccess(ctx, co); err != nil || !f.AlreadyFulfilled {
				t.Fatalf("retry: %+v, %v", f, err)
			}
			if got := e.nonce(e.node.Address()); got != before+1 {
				t.Fatalf("node sent %d transactions, want 1", got-before)
			}
		})
	}
}

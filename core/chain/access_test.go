package chain_test

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/contracts"
)

// TestAccessFlow runs the access service end to end, paying in ether and
// in the ERC-20 NeverminedToken: the consumer orders, the node verifies the
// lock payment, fulfils access and escrow, and the publisher is paid.
func TestAccessFlow(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	token := e.addr(contracts.NeverminedToken)

	// The consumer gets tokens from the Dispenser.
	if _, err := e.c.RequestTokens(ctx, e.consumer, big.NewInt(100)); err != nil {
		t.Fatalf("RequestTokens: %v", err)
	}
	if got, want := e.balance(token, e.consumer.Address()), new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)); got.Cmp(want) != 0 {
		t.Fatalf("consumer token balance %s, want %s", got, want)
	}

	for _, tc := range []struct {
		name  string
		price chain.Price
	}{
		{"ether", chain.Price{Amounts: []*big.Int{ether(3), ether(1)}, Receivers: []common.Address{e.publisher.Address(), e.other.Address}}},
		{"erc20", chain.Price{Token: token, Amounts: []*big.Int{ether(2500)}, Receivers: []common.Address{e.publisher.Address()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			did := e.asset("asset " + tc.name)
			pubBefore := e.balance(tc.price.Token, e.publisher.Address())
			consBefore := e.balance(tc.price.Token, e.consumer.Address())

			ag, err := e.c.OrderAccess(ctx, e.consumer, seedOf("agreement "+tc.name), did, tc.price)
			if err != nil {
				t.Fatalf("OrderAccess: %v", err)
			}
			if tc.price.Token != (common.Address{}) {
				paid := new(big.Int).Sub(consBefore, e.balance(tc.price.Token, e.consumer.Address()))
				if paid.Cmp(tc.price.Total()) != 0 {
					t.Fatalf("consumer paid %s tokens, want %s", paid, tc.price.Total())
				}
			}
			if s := e.state(ag.IDs.Lock); s != chain.StateFulfilled {
				t.Fatalf("lock is %s after paying", s)
			}
			if ok, _ := e.c.HasAccess(ctx, e.consumer.Address(), did); ok {
				t.Fatal("consumer has access before the node fulfilled")
			}

			order := chain.AccessOrder{AgreementID: ag.ID, DID: did, Consumer: e.consumer.Address(), Price: tc.price}
			nodeNonce := e.nonce(e.node.Address())
			fs, err := e.provider.ProcessAccess(ctx, order)
			if err != nil {
				t.Fatalf("ProcessAccess: %v", err)
			}
			if len(fs) != 2 || fs[0].Condition != contracts.AccessCondition || fs[1].Condition != contracts.EscrowPaymentCondition {
				t.Fatalf("fulfilments %+v", fs)
			}
			for _, f := range fs {
				if f.AlreadyFulfilled || f.Tx == (common.Hash{}) {
					t.Fatalf("%s: no transaction reported: %+v", f.Condition, f)
				}
				r, err := e.c.Eth().TransactionReceipt(ctx, f.Tx)
				if err != nil || r.Status != 1 {
					t.Fatalf("%s: receipt %v, %v", f.Condition, r, err)
				}
			}
			if got := e.nonce(e.node.Address()); got != nodeNonce+2 {
				t.Fatalf("node sent %d transactions, want 2", got-nodeNonce)
			}
			for _, id := range []common.Hash{ag.IDs.Access, ag.IDs.Escrow} {
				if s := e.state(id); s != chain.StateFulfilled {
					t.Fatalf("condition %s is %s", id, s)
				}
			}
			if ok, err := e.c.HasAccess(ctx, e.consumer.Address(), did); err != nil || !ok {
				t.Fatalf("consumer has no access after fulfilment (%v)", err)
			}
			// Escrow released to the receivers.
			if got := new(big.Int).Sub(e.balance(tc.price.Token, e.publisher.Address()), pubBefore); got.Cmp(tc.price.Amounts[0]) != 0 {
				t.Fatalf("publisher received %s, want %s", got, tc.price.Amounts[0])
			}
			if len(tc.price.Amounts) > 1 {
				if got := e.balance(tc.price.Token, e.other.Address); got.Cmp(new(big.Int).Add(e.initialBalance(), tc.price.Amounts[1])) != 0 {
					t.Fatalf("second receiver has %s", got)
				}
			}

			// A second request finds everything fulfilled and sends nothing,
			// also through a fresh client without caches.
			for _, p := range []*chain.Provider{e.provider, chain.NewProvider(e.dial(nil).NewSender(e.dev.Accounts()[3].Key))} {
				fs, err = p.ProcessAccess(ctx, order)
				if err != nil {
					t.Fatalf("second ProcessAccess: %v", err)
				}
				for _, f := range fs {
					if !f.AlreadyFulfilled || f.Tx != (common.Hash{}) {
						t.Fatalf("second request: %+v", f)
					}
				}
			}
			if got := e.nonce(e.node.Address()); got != nodeNonce+2 {
				t.Fatalf("second request sent %d transactions", got-nodeNonce-2)
			}

			// The agreement as the event tells it.
			a, err := e.c.Agreement(ctx, ag.ID)
			if err != nil {
				t.Fatal(err)
			}
			if a.DID != did || a.Creator != e.consumer.Address() || a.Consumer != e.consumer.Address() ||
				a.TemplateName != contracts.AccessTemplate || len(a.ConditionIDs) != 3 ||
				a.ConditionIDs[0] != ag.IDs.Access || a.ConditionIDs[1] != ag.IDs.Lock || a.ConditionIDs[2] != ag.IDs.Escrow {
				t.Fatalf("agreement %+v", a)
			}
		})
	}
}

// initialBalance is what dev accounts hold at genesis (devchain: 1e9 ether).
func (e *env) initialBalance() *big.Int {
	return new(big.Int).Mul(big.NewInt(1_000_000_000), big.NewInt(1e18))
}

// TestUnpaidSendsNothing: an agreement created without payment, or checked
// against another price or consumer, is refused before any transaction.
func TestUnpaidSendsNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	did := e.asset("unpaid asset")
	price := chain.Price{Amounts: []*big.Int{ether(5)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.CreateAccessAgreement(ctx, e.consumer, seedOf("unpaid"), did, price)
	if err != nil {
		t.Fatalf("CreateAccessAgreement: %v", err)
	}
	if s := e.state(ag.IDs.Lock); s != chain.StateUnfulfilled {
		t.Fatalf("lock is %s", s)
	}
	before := e.nonce(e.node.Address())
	order := chain.AccessOrder{AgreementID: ag.ID, DID: did, Consumer: e.consumer.Address(), Price: price}

	_, err = e.provider.VerifyLockPayment(ctx, order)
	mustErrIs(t, err, chain.ErrNotPaid)
	_, err = e.provider.ProcessAccess(ctx, order)
	mustErrIs(t, err, chain.ErrNotPaid)

	cheaper := order
	cheaper.Price = chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	_, err = e.provider.ProcessAccess(ctx, cheaper)
	mustErrIs(t, err, chain.ErrAgreementMismatch)

	stranger := order
	stranger.Consumer = e.other.Address
	_, err = e.provider.ProcessAccess(ctx, stranger)
	mustErrIs(t, err, chain.ErrAgreementMismatch)

	otherDID := order
	otherDID.DID = seedOf("another did")
	_, err = e.provider.ProcessAccess(ctx, otherDID)
	mustErrIs(t, err, chain.ErrAgreementMismatch)

	unknown := order
	unknown.AgreementID = seedOf("no such agreement")
	_, err = e.provider.ProcessAccess(ctx, unknown)
	mustErrIs(t, err, chain.ErrNoAgreement)

	// A PaidAccess that did not come from VerifyLockPayment is refused.
	if _, err := e.provider.FulfilAccess(ctx, &chain.PaidAccess{Order: order, IDs: ag.IDs}); err == nil {
		t.Fatal("FulfilAccess accepted an unverified PaidAccess")
	}

	if after := e.nonce(e.node.Address()); after != before {
		t.Fatalf("node sent %d transactions for an unpaid agreement", after-before)
	}
	if s := e.state(ag.IDs.Access); s != chain.StateUnfulfilled {
		t.Fatalf("access condition is %s", s)
	}
	if ok, _ := e.c.HasAccess(ctx, e.consumer.Address(), did); ok {
		t.Fatal("consumer got access without paying")
	}
}

// TestConcurrentFulfilOneTransaction: ten concurrent requests for one
// agreement lead to exactly one access transaction.
func TestConcurrentFulfilOneTransaction(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	did := e.asset("busy asset")
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.OrderAccess(ctx, e.consumer, seedOf("busy"), did, price)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := e.provider.VerifyLockPayment(ctx, chain.AccessOrder{AgreementID: ag.ID, DID: did, Consumer: e.consumer.Address(), Price: price})
	if err != nil {
		t.Fatal(err)
	}
	before := e.nonce(e.node.Address())
	const n = 10
	results := make([]chain.Fulfilment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.provider.FulfilAccess(ctx, pa)
		}()
	}
	close(start)
	wg.Wait()
	var txs = map[common.Hash]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if results[i].Tx != (common.Hash{}) {
			txs[results[i].Tx]++
		}
	}
	if sent := e.nonce(e.node.Address()) - before; sent != 1 {
		t.Fatalf("%d transactions sent, want 1", sent)
	}
	if len(txs) != 1 {
		t.Fatalf("requests reported %d distinct transactions: %v", len(txs), txs)
	}
	if s := e.state(ag.IDs.Access); s != chain.StateFulfilled {
		t.Fatalf("access is %s", s)
	}
}

// TestSenderResyncsNonce: a transaction sent from the node's account behind
// the Sender's back makes its next nonce stale; the Sender recovers.
func TestSenderResyncsNonce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	did := e.asset("nonce asset")
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag1, err := e.c.OrderAccess(ctx, e.consumer, seedOf("n1"), did, price)
	if err != nil {
		t.Fatal(err)
	}
	ag2, err := e.c.OrderAccess(ctx, e.consumer, seedOf("n2"), did, price)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.provider.ProcessAccess(ctx, chain.AccessOrder{AgreementID: ag1.ID, DID: did, Consumer: e.consumer.Address(), Price: price}); err != nil {
		t.Fatal(err)
	}
	// Another sender on the same key (a second process) uses the next nonce.
	intruder := e.dial(nil).NewSender(e.dev.Accounts()[3].Key)
	if _, err := intruder.Send(ctx, e.other.Address, big.NewInt(1), nil); err != nil {
		t.Fatal(err)
	}
	before := e.nonce(e.node.Address())
	fs, err := e.provider.ProcessAccess(ctx, chain.AccessOrder{AgreementID: ag2.ID, DID: did, Consumer: e.consumer.Address(), Price: price})
	if err != nil {
		t.Fatalf("after a foreign transaction: %v", err)
	}
	if len(fs) != 2 || e.nonce(e.node.Address()) != before+2 {
		t.Fatalf("fulfilments %+v, nonce %d -> %d", fs, before, e.nonce(e.node.Address()))
	}
}

// TestChainStopped: with the chain gone, reads and fulfils fail with
// ErrUnavailable instead of hanging.
func TestChainStopped(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	did := e.asset("doomed asset")
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.OrderAccess(ctx, e.consumer, seedOf("doomed"), did, price)
	if err != nil {
		t.Fatal(err)
	}
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.dev.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	// A generous bound, only so that a hang fails the test instead of
	// stalling it: the errors come back in milliseconds (see the log).
	ctx, cancel = context.WithTimeout(ctx, time.Minute)
	defer cancel()
	began := time.Now()
	_, err = e.provider.ProcessAccess(ctx, chain.AccessOrder{AgreementID: ag.ID, DID: did, Consumer: e.consumer.Address(), Price: price})
	mustErrIs(t, err, chain.ErrUnavailable)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		t.Fatal("ProcessAccess hung until the test's deadline")
	}
	_, err = e.c.ConditionState(ctx, ag.IDs.Access)
	mustErrIs(t, err, chain.ErrUnavailable)
	_, err = e.node.Send(ctx, e.other.Address, big.NewInt(1), nil)
	mustErrIs(t, err, chain.ErrUnavailable)
	t.Logf("errors after the chain stopped came back in %s: %v", time.Since(began), err)
}

// TestAgreementLookupChunks finds an AgreementCreated event several
// eth_getLogs chunks back, and not beyond the lookback window.
func TestAgreementLookupChunks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	did := e.asset("old asset")
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.OrderAccess(ctx, e.consumer, seedOf("old"), did, price)
	if err != nil {
		t.Fatal(err)
	}
	created := ag.Txs[len(ag.Txs)-1].Receipt.BlockNumber.Uint64()
	// Each transaction seals one block on the dev chain.
	for range 9 {
		if _, err := e.publisher.Send(ctx, e.other.Address, big.NewInt(1), nil); err != nil {
			t.Fatal(err)
		}
	}
	head, err := e.c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head < created+9 {
		t.Fatalf("head %d, agreement at %d", head, created)
	}
	chunked := e.dial(func(c *chain.Config) { c.LogChunk = 2 })
	a, err := chunked.Agreement(ctx, ag.ID)
	if err != nil {
		t.Fatalf("chunk 2: %v", err)
	}
	if a.Block != created || a.DID != did {
		t.Fatalf("found %+v", a)
	}
	// A chunk of one block, with the lookback ending exactly at the event.
	exact := e.dial(func(c *chain.Config) { c.LogChunk = 1; c.LogLookback = head - created + 1 })
	if _, err := exact.Agreement(ctx, ag.ID); err != nil {
		t.Fatalf("lookback to the event's block: %v", err)
	}
	short := e.dial(func(c *chain.Config) { c.LogChunk = 3; c.LogLookback = head - created })
	_, err = short.Agreement(ctx, ag.ID)
	mustErrIs(t, err, chain.ErrNoAgreement)
	late := e.dial(func(c *chain.Config) { c.FromBlock = created + 1 })
	_, err = late.Agreement(ctx, ag.ID)
	mustErrIs(t, err, chain.ErrNoAgreement)
}

// TestRegisterMintableDID registers an ERC-1155 asset with the node as
// provider, minting its cap to the publisher.
func TestRegisterMintableDID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seed := seedOf("nft asset")
	did, _, err := e.c.RegisterMintableDID(ctx, e.publisher, chain.MintableDID{Seed: seed, Checksum: seed,
		Providers: []common.Address{e.node.Address()}, URL: "http://localhost/nft", Cap: big.NewInt(10), Mint: true})
	if err != nil {
		t.Fatalf("RegisterMintableDID: %v", err)
	}
	if did != chain.DIDFromSeed(seed, e.publisher.Address()) {
		t.Fatalf("did %s", did)
	}
	owner, err := e.c.DIDOwner(ctx, did)
	if err != nil || owner != e.publisher.Address() {
		t.Fatalf("owner %s, %v", owner, err)
	}
	bal, err := e.c.Call(ctx, contracts.NFT1155Upgradeable, "balanceOf", e.publisher.Address(), new(big.Int).SetBytes(did[:]))
	if err != nil {
		t.Fatal(err)
	}
	if got := bal[0].(*big.Int); got.Int64() != 10 {
		t.Fatalf("publisher holds %s editions, want 10", got)
	}
	// The node is a provider: AccessCondition lets it in without an agreement.
	if ok, err := e.c.HasAccess(ctx, e.node.Address(), did); err != nil || !ok {
		t.Fatalf("provider has no access (%v)", err)
	}
	if ok, _ := e.c.HasAccess(ctx, e.consumer.Address(), did); ok {
		t.Fatal("a stranger has access")
	}
}

// TestNodeNotProvider: when the node is neither owner nor provider of the
// DID, the access fulfil would revert; it is refused at estimation, so
// nothing is sent and the error says the chain refused.
func TestNodeNotProvider(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	seed := seedOf("foreign asset")
	did, _, err := e.c.RegisterDID(ctx, e.publisher, seed, seed, nil, "http://localhost/foreign")
	if err != nil {
		t.Fatal(err)
	}
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.OrderAccess(ctx, e.consumer, seedOf("foreign"), did, price)
	if err != nil {
		t.Fatal(err)
	}
	before := e.nonce(e.node.Address())
	_, err = e.provider.ProcessAccess(ctx, chain.AccessOrder{AgreementID: ag.ID, DID: did, Consumer: e.consumer.Address(), Price: price})
	mustErrIs(t, err, chain.ErrReverted)
	t.Logf("refused: %v", err)
	if errors.Is(err, chain.ErrUnavailable) {
		t.Fatalf("a revert reported as unavailable: %v", err)
	}
	if e.nonce(e.node.Address()) != before {
		t.Fatal("a reverting fulfil was sent")
	}
	if s := e.state(ag.IDs.Access); s != chain.StateUnfulfilled {
		t.Fatalf("access is %s", s)
	}
}

package chain_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
)

// fulfilledAccess sets up an access agreement whose conditions the node has
// fulfilled, for the benchmarks.
func fulfilledAccess(b *testing.B) (*env, chain.AccessOrder, chain.AccessIDs) {
	e := newEnv(b, nil)
	ctx := context.Background()
	did := e.asset("bench asset")
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.OrderAccess(ctx, e.consumer, seedOf("bench"), did, price)
	if err != nil {
		b.Fatal(err)
	}
	order := chain.AccessOrder{AgreementID: ag.ID, DID: did, Consumer: e.consumer.Address(), Price: price}
	if _, err := e.provider.ProcessAccess(ctx, order); err != nil {
		b.Fatal(err)
	}
	return e, order, ag.IDs
}

// BenchmarkConditionRead is one getCondition eth_call over HTTP to the dev
// chain (never cached).
func BenchmarkConditionRead(b *testing.B) {
	e, _, ids := fulfilledAccess(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.c.Condition(ctx, ids.Access); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConditionStateUnfulfilled reads a state that can still change,
// so every read is an eth_call.
func BenchmarkConditionStateUnfulfilled(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	did := e.asset("bench unpaid")
	price := chain.Price{Amounts: []*big.Int{ether(1)}, Receivers: []common.Address{e.publisher.Address()}}
	ag, err := e.c.CreateAccessAgreement(ctx, e.consumer, seedOf("bench unpaid"), did, price)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if s, err := e.c.ConditionState(ctx, ag.IDs.Lock); err != nil || s != chain.StateUnfulfilled {
			b.Fatal(s, err)
		}
	}
}

// BenchmarkConditionStateFulfilled reads a fulfilled state: cached.
func BenchmarkConditionStateFulfilled(b *testing.B) {
	e, _, ids := fulfilledAccess(b)
	ctx := context.Background()
	for b.Loop() {
		if s, err := e.c.ConditionState(ctx, ids.Access); err != nil || s != chain.StateFulfilled {
			b.Fatal(s, err)
		}
	}
}

// BenchmarkProcessAccessAlreadyFulfilled is a repeat token request for a
// fulfilled agreement: verification plus the "already fulfilled" fast path
// of both fulfils, with a warm client (agreement and states cached).
func BenchmarkProcessAccessAlreadyFulfilled(b *testing.B) {
	e, order, _ := fulfilledAccess(b)
	ctx := context.Background()
	for b.Loop() {
		fs, err := e.provider.ProcessAccess(ctx, order)
		if err != nil || len(fs) != 2 || !fs[0].AlreadyFulfilled || !fs[1].AlreadyFulfilled {
			b.Fatal(fs, err)
		}
	}
}

// BenchmarkProcessAccessColdClient is the same request on a client with
// empty caches: getAgreementTemplate, head, eth_getLogs, lock state, and a
// state read per condition.
func BenchmarkProcessAccessColdClient(b *testing.B) {
	e, order, _ := fulfilledAccess(b)
	ctx := context.Background()
	key := e.dev.Accounts()[3].Key
	for b.Loop() {
		b.StopTimer()
		p := chain.NewProvider(e.dial(nil).NewSender(key))
		b.StartTimer()
		fs, err := p.ProcessAccess(ctx, order)
		if err != nil || len(fs) != 2 || !fs[0].AlreadyFulfilled {
			b.Fatal(fs, err)
		}
	}
}

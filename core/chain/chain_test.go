package chain_test

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
	"github.com/nvm-node/nvm-node/core/devchain"
)

// env is a dev chain with the contracts, a client, and the parties of an
// access sale: the publisher owns the asset, the node is its provider.
type env struct {
	t         testing.TB
	dev       *devchain.Chain
	c         *chain.Client
	publisher *chain.Sender
	consumer  *chain.Sender
	node      *chain.Sender
	provider  *chain.Provider
	other     devchain.Account
}

func newEnv(t testing.TB, tune func(*chain.Config)) *env {
	t.Helper()
	set := contractstest.Set(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dev, err := devchain.Start(ctx, devchain.Config{DataDir: t.TempDir(), Contracts: set})
	if err != nil {
		t.Fatalf("devchain: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dev.Close(ctx); err != nil {
			t.Errorf("devchain close: %v", err)
		}
	})
	e := &env{t: t, dev: dev}
	e.c = e.dial(tune)
	accs := dev.Accounts()
	e.publisher = e.c.NewSender(accs[1].Key)
	e.consumer = e.c.NewSender(accs[2].Key)
	e.node = e.c.NewSender(accs[3].Key)
	e.other = accs[4]
	e.provider = chain.NewProvider(e.node)
	return e
}

// dial opens another client on the chain (each has its own caches).
func (e *env) dial(tune func(*chain.Config)) *chain.Client {
	e.t.Helper()
	cfg := chain.Config{
		RPCURL:          e.dev.RPCURL(),
		ArtifactsFolder: e.dev.ArtifactsDir(),
		ReceiptPoll:     5 * time.Millisecond, // the dev chain seals at once
		CallTimeout:     5 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := chain.Dial(context.Background(), cfg)
	if err != nil {
		e.t.Fatalf("Dial: %v", err)
	}
	e.t.Cleanup(c.Close)
	return c
}

func (e *env) addr(name string) common.Address {
	e.t.Helper()
	a, err := e.c.Contracts().Address(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// asset registers a DID owned by the publisher with the node as provider.
func (e *env) asset(name string) common.Hash {
	e.t.Helper()
	seed := crypto.Keccak256Hash([]byte(name))
	did, _, err := e.c.RegisterDID(context.Background(), e.publisher, seed, seed, []common.Address{e.node.Address()}, "http://localhost/"+name)
	if err != nil {
		e.t.Fatalf("RegisterDID: %v", err)
	}
	return did
}

func (e *env) nonce(a common.Address) uint64 {
	e.t.Helper()
	n, err := e.c.NonceAt(context.Background(), a)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) balance(token, owner common.Address) *big.Int {
	e.t.Helper()
	b, err := e.c.TokenBalance(context.Background(), token, owner)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) state(id common.Hash) chain.ConditionState {
	e.t.Helper()
	cond, err := e.c.Condition(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return cond.State
}

func ether(milli int64) *big.Int { return new(big.Int).Mul(big.NewInt(milli), big.NewInt(1e15)) }

func seedOf(s string) common.Hash { return crypto.Keccak256Hash([]byte(s)) }

func mustErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

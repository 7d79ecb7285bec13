package devchain

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
)

// TestSealerWatchdog shows that a transaction whose pool event never reaches
// the sealer is still sealed, by the periodic check alone; and that with no
// sealer running nothing else seals it (so the check is what did).
func TestSealerWatchdog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{DataDir: t.TempDir(), Contracts: contractstest.Set(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	if err := c.sealer.Stop(); err != nil {
		t.Fatal(err)
	}

	from, to := c.accounts[1], c.accounts[2]
	nonce, err := c.client.PendingNonceAt(ctx, from.Address)
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(c.cfg.ChainID))
	tx, err := types.SignNewTx(from.Key, signer, &types.DynamicFeeTx{
		ChainID: signer.ChainID(), Nonce: nonce, GasTipCap: gasTipCap, GasFeeCap: gasFeeCap,
		Gas: 21000, To: &to.Address, Value: big.NewInt(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = c.WaitReceipt(waitCtx, tx.Hash())
	waitCancel()
	if err == nil {
		t.Fatal("without a sealer the transaction was mined anyway: the test shows nothing")
	}

	s := newSealer(c.beacon, c.backend, c.log)
	s.period = 20 * time.Millisecond
	s.watchdogOnly = true
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r, err := c.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatalf("the watchdog did not seal the transaction: %v", err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("receipt status %d", r.Status)
	}
	// Nothing left to seal: the watchdog makes no empty blocks.
	head := c.backend.BlockChain().CurrentBlock().Number.Uint64()
	time.Sleep(5 * s.period)
	if now := c.backend.BlockChain().CurrentBlock().Number.Uint64(); now != head {
		t.Fatalf("head moved from %d to %d with an empty pool", head, now)
	}
}

// TestBurstFromOneAccount: far more transactions from one account than the
// pool's default per-account queue (64), sent back to back as the
// deployment does, are all mined; and the block scan WaitReceipt falls back
// on finds the same receipt as the index.
func TestBurstFromOneAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Config{DataDir: t.TempDir(), Contracts: contractstest.Set(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	from, to := c.accounts[1], c.accounts[2]
	nonce, err := c.client.PendingNonceAt(ctx, from.Address)
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(c.cfg.ChainID))
	const n = 400
	var last *types.Transaction
	for i := range n {
		tx, err := types.SignNewTx(from.Key, signer, &types.DynamicFeeTx{
			ChainID: signer.ChainID(), Nonce: nonce + uint64(i), GasTipCap: gasTipCap, GasFeeCap: gasFeeCap,
			Gas: 21000, To: &to.Address, Value: big.NewInt(1),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.client.SendTransaction(ctx, tx); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		last = tx
	}
	r, err := c.WaitReceipt(ctx, last.Hash())
	if err != nil {
		t.Fatalf("the last of %d transactions: %v", n, err)
	}
	scanned := c.scanReceipt(last.Hash(), 1024)
	if scanned == nil || scanned.TxHash != r.TxHash || scanned.BlockNumber.Cmp(r.BlockNumber) != 0 ||
		scanned.Status != r.Status || scanned.GasUsed != r.GasUsed || scanned.TransactionIndex != r.TransactionIndex {
		t.Fatalf("scanned receipt %+v, indexed %+v", scanned, r)
	}
	if c.scanReceipt(common.Hash{1}, 1024) != nil {
		t.Fatal("a receipt was found for a transaction that does not exist")
	}
	if got, err := c.client.NonceAt(ctx, from.Address, nil); err != nil || got != nonce+n {
		t.Fatalf("nonce %d after %d transactions from %d (%v)", got, n, nonce, err)
	}
}

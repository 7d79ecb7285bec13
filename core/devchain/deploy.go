package devchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/nvm-node/nvm-node/core/contracts"
)

const recordFileName = "deployment.json"

// callGasLimit bounds each initialize and wiring transaction. Their gas cannot
// be estimated before the transactions ahead of them are mined (they call
// contracts that do not exist yet), so a fixed limit well above the largest
// use (about 0.3M) lets them all go out at once; unused gas is refunded.
const callGasLimit = 3_000_000

// Fees: generous on purpose. A dev chain's base fee starts at 1 gwei and only
// rises while blocks are more than half full; a fee cap below the base fee
// would leave transactions stuck in the pool.
var (
	gasTipCap = big.NewInt(params.GWei)
	gasFeeCap = big.NewInt(100 * params.GWei)
)

// record is the deployment a data directory holds, saved once wiring has
// succeeded. A restart reuses it when it matches the chain and the compiled
// code and every address still has code.
type record struct {
	ChainID    uint64                    `json:"chainId"`
	Version    string                    `json:"version"`
	Owner      common.Address            `json:"owner"`
	CodeDigest string                    `json:"codeDigest"`
	Contracts  map[string]common.Address `json:"contracts"`
	Block      uint64                    `json:"block"`
	fresh      bool
}

// codeDigest identifies the compiled code being deployed, so a data directory
// deployed from other sources is redeployed rather than trusted.
func codeDigest(set *contracts.Set) (string, error) {
	h := sha256.New()
	for _, spec := range contracts.Deployment() {
		c, err := set.Contract(spec.Name)
		if err != nil {
			return "", err
		}
		h.Write([]byte(spec.Name))
		h.Write([]byte{0})
		h.Write(c.Bytecode)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *Chain) recordPath() string { return filepath.Join(c.cfg.DataDir, recordFileName) }

// deployOrReuse sets c.deployed, from the data directory when it holds a
// usable deployment, else by deploying.
func (c *Chain) deployOrReuse(ctx context.Context) error {
	digest, err := codeDigest(c.cfg.Contracts)
	if err != nil {
		return fmt.Errorf("devchain: %w", err)
	}
	rec, reason, err := c.existing(ctx, digest)
	if err != nil {
		return err
	}
	if rec != nil {
		c.deployed = rec
		c.log.Info("devchain: reusing deployment", "block", rec.Block, "record", c.recordPath())
		return nil
	}
	c.log.Info("devchain: deploying contracts", "reason", reason)
	began := time.Now()
	rec, err = c.deploy(ctx, digest)
	if err != nil {
		return err
	}
	rec.fresh = true
	c.deployed = rec
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("devchain: encode deployment record: %w", err)
	}
	if err := writeFileAtomic(c.recordPath(), data, 0o644); err != nil {
		return err
	}
	c.log.Info("devchain: contracts deployed", "contracts", len(rec.Contracts), "block", rec.Block,
		"took", time.Since(began).Round(time.Millisecond))
	return nil
}

// existing returns the saved deployment if it can be reused, or why not.
func (c *Chain) existing(ctx context.Context, digest string) (*record, string, error) {
	data, err := os.ReadFile(c.recordPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, "no deployment record", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("devchain: %w", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, "deployment record unreadable: " + err.Error(), nil
	}
	switch {
	case rec.ChainID != c.cfg.ChainID:
		return nil, "deployment record is for another chain id", nil
	case rec.Version != contracts.Version:
		return nil, "deployment record is for contracts " + rec.Version, nil
	case rec.Owner != c.accounts[0].Address:
		return nil, "deployment record has another owner", nil
	case rec.CodeDigest != digest:
		return nil, "compiled contracts changed since the recorded deployment", nil
	}
	for _, spec := range contracts.Deployment() {
		addr, ok := rec.Contracts[spec.Name]
		if !ok {
			return nil, "deployment record lacks " + spec.Name, nil
		}
		code, err := c.client.CodeAt(ctx, addr, nil)
		if err != nil {
			return nil, "", fmt.Errorf("devchain: read code of %s: %w", spec.Name, err)
		}
		if len(code) == 0 {
			// The chain lost blocks the record saw, e.g. after a crash.
			return nil, "no code at the recorded address of " + spec.Name, nil
		}
	}
	return &rec, "", nil
}

// pendingTx is a signed transaction and what it is for, for error messages.
type pendingTx struct {
	tx       *types.Transaction
	what     string
	contract common.Address // expected created address, for deployments
}

// deploy creates all contracts, initializes and wires them. Every transaction
// comes from the owner with consecutive nonces, so they can all be sent
// before any is mined: the chain executes them in nonce order, which is the
// order CONTRACTS.md needs (deploy all, then initialize, then wire). Creation
// addresses follow from the nonces, so the later calls can name them.
func (c *Chain) deploy(ctx context.Context, digest string) (*record, error) {
	owner := c.accounts[0]
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(c.cfg.ChainID))
	nonce, err := c.client.PendingNonceAt(ctx, owner.Address)
	if err != nil {
		return nil, fmt.Errorf("devchain: owner nonce: %w", err)
	}
	specs := contracts.Deployment()
	addrs := make(map[string]common.Address, len(specs))
	for i, spec := range specs {
		addrs[spec.Name] = crypto.CreateAddress(owner.Address, nonce+uint64(i))
	}

	var txs []pendingTx
	sign := func(to *common.Address, data []byte, gas uint64, what string, created common.Address) error {
		tx, err := types.SignNewTx(owner.Key, signer, &types.DynamicFeeTx{
			ChainID:   signer.ChainID(),
			Nonce:     nonce + uint64(len(txs)),
			GasTipCap: gasTipCap,
			GasFeeCap: gasFeeCap,
			Gas:       gas,
			To:        to,
			Data:      data,
		})
		if err != nil {
			return fmt.Errorf("devchain: sign %s: %w", what, err)
		}
		txs = append(txs, pendingTx{tx: tx, what: what, contract: created})
		return nil
	}

	for _, spec := range specs {
		ct, err := c.cfg.Contracts.Contract(spec.Name)
		if err != nil {
			return nil, fmt.Errorf("devchain: %w", err)
		}
		// Constructors touch no other contract, so creation gas can be
		// estimated up front against the current state.
		gas, err := c.client.EstimateGas(ctx, ethereum.CallMsg{From: owner.Address, Data: ct.Bytecode})
		if err != nil {
			return nil, fmt.Errorf("devchain: estimate deployment of %s: %w", spec.Name, err)
		}
		if err := sign(nil, ct.Bytecode, gas+gas/10, "deploy "+spec.Name, addrs[spec.Name]); err != nil {
			return nil, err
		}
	}
	for _, spec := range specs {
		if spec.Init == nil {
			continue
		}
		if err := c.signCall(sign, addrs, contracts.Call{Contract: spec.Name, Method: "initialize", Args: spec.Init}); err != nil {
			return nil, err
		}
	}
	for _, call := range contracts.Wiring() {
		if err := c.signCall(sign, addrs, call); err != nil {
			return nil, err
		}
	}

	receipts, err := c.sendAll(ctx, txs)
	if err != nil {
		return nil, err
	}
	for i, r := range receipts {
		p := txs[i]
		if r.Status != types.ReceiptStatusSuccessful {
			return nil, fmt.Errorf("devchain: %s failed in block %d (gas used %d of %d)", p.what, r.BlockNumber, r.GasUsed, p.tx.Gas())
		}
		if p.tx.To() == nil && r.ContractAddress != p.contract {
			return nil, fmt.Errorf("devchain: %s created %s, expected %s", p.what, r.ContractAddress, p.contract)
		}
	}
	last := receipts[len(receipts)-1]
	return &record{
		ChainID:    c.cfg.ChainID,
		Version:    contracts.Version,
		Owner:      owner.Address,
		CodeDigest: digest,
		Contracts:  addrs,
		Block:      last.BlockNumber.Uint64(),
	}, nil
}

type signFunc func(to *common.Address, data []byte, gas uint64, what string, created common.Address) error

func (c *Chain) signCall(sign signFunc, addrs map[string]common.Address, call contracts.Call) error {
	what := call.Contract + "." + call.Method
	ct, err := c.cfg.Contracts.Contract(call.Contract)
	if err != nil {
		return fmt.Errorf("devchain: %s: %w", what, err)
	}
	args := make([]any, len(call.Args))
	for i, a := range call.Args {
		v, err := a.Value(c.accounts[0].Address, addrs)
		if err != nil {
			return fmt.Errorf("devchain: %s: %w", what, err)
		}
		args[i] = v
	}
	data, err := ct.ABI.Pack(call.Method, args...)
	if err != nil {
		return fmt.Errorf("devchain: pack %s: %w", what, err)
	}
	to := addrs[call.Contract]
	return sign(&to, data, callGasLimit, what, common.Address{})
}

// sendAll submits the transactions in order, then waits for all receipts.
// The dev beacon seals blocks while later transactions are still arriving.
func (c *Chain) sendAll(ctx context.Context, txs []pendingTx) ([]*types.Receipt, error) {
	for _, p := range txs {
		if err := c.client.SendTransaction(ctx, p.tx); err != nil {
			return nil, fmt.Errorf("devchain: send %s: %w", p.what, err)
		}
	}
	// Same sender, consecutive nonces: the last is mined after all others,
	// so waiting for it first makes the other waits return at once.
	receipts := make([]*types.Receipt, len(txs))
	for _, i := range append([]int{len(txs) - 1}, seq(len(txs)-1)...) {
		r, err := c.WaitReceipt(ctx, txs[i].tx.Hash())
		if err != nil {
			return nil, fmt.Errorf("devchain: %s: %w", txs[i].what, err)
		}
		receipts[i] = r
	}
	return receipts, nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// txIndexingMsg is what go-ethereum answers for a receipt while its
// background transaction indexer has not reached the block yet; the lookup
// succeeds a moment later.
const txIndexingMsg = "transaction indexing is in progress"

// IsTxIndexing reports whether err is go-ethereum's transient "transaction
// indexing is in progress" answer to a receipt or transaction lookup, which
// callers must retry like ethereum.NotFound.
func IsTxIndexing(err error) bool {
	return err != nil && strings.Contains(err.Error(), txIndexingMsg)
}

// WaitReceipt polls the chain until the transaction is mined and returns its
// receipt (whatever its status). The chain is in-process and seals within
// milliseconds, so it polls every 5 ms rather than bind.WaitMined's second.
//
// The receipt lookup goes through go-ethereum's background transaction
// index. A CI run once polled it for ten minutes while the chain sat idle;
// so every second without an answer WaitReceipt also looks for the
// transaction in the recent blocks themselves, which needs no index.
func (c *Chain) WaitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	began := time.Now()
	lastScan := began
	for {
		r, err := c.client.TransactionReceipt(ctx, hash)
		// A block's receipts are stored when it is inserted, a moment
		// before the beacon makes it the head: wait for the head too, so
		// that calls at "latest" see what the receipt says happened.
		if err == nil && c.backend.BlockChain().CurrentBlock().Number.Cmp(r.BlockNumber) >= 0 {
			return r, nil
		}
		if err != nil && !errors.Is(err, ethereum.NotFound) && !IsTxIndexing(err) {
			return nil, fmt.Errorf("receipt: %w", err)
		}
		if time.Since(lastScan) >= time.Second {
			lastScan = time.Now()
			if r := c.scanReceipt(hash, 1024); r != nil {
				c.log.Warn("devchain: a mined transaction's receipt was found only by scanning blocks (the transaction index lags)",
					"tx", hash, "block", r.BlockNumber, "waited", time.Since(began).Round(time.Millisecond))
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			// Say what the chain was doing, so that a stall can be told
			// apart from a slow machine.
			executable, queued := c.backend.TxPool().Stats()
			inPool := c.backend.TxPool().Get(hash) != nil
			return nil, fmt.Errorf("waiting for receipt (head %d, transaction in pool %v, pool: %d executable, %d queued): %w",
				c.backend.BlockChain().CurrentBlock().Number.Uint64(), inPool, executable, queued, ctx.Err())
		case <-tick.C:
		}
	}
}

// scanReceipt looks for the transaction in the last depth canonical blocks
// and returns its receipt, or nil.
func (c *Chain) scanReceipt(hash common.Hash, depth uint64) *types.Receipt {
	bc := c.backend.BlockChain()
	head := bc.CurrentBlock().Number.Uint64()
	for n := head; n > 0 && head-n < depth; n-- {
		b := bc.GetBlockByNumber(n)
		if b == nil {
			return nil
		}
		for i, tx := range b.Transactions() {
			if tx.Hash() != hash {
				continue
			}
			if rs := bc.GetReceiptsByHash(b.Hash()); i < len(rs) {
				return rs[i]
			}
			return nil
		}
	}
	return nil
}

// topUp sends ether from account 0 to every FundAccounts entry whose balance
// is below half the funding amount: on a chain created earlier with other
// FundAccounts, genesis did not fund them.
func (c *Chain) topUp(ctx context.Context) error {
	from := c.accounts[0]
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(c.cfg.ChainID))
	var txs []pendingTx
	var nonce uint64
	half := new(big.Int).Rsh(fundAccountBalance, 1)
	for i, to := range c.cfg.FundAccounts {
		bal, err := c.client.BalanceAt(ctx, to, nil)
		if err != nil {
			return fmt.Errorf("devchain: balance of %s: %w", to, err)
		}
		if bal.Cmp(half) >= 0 {
			continue
		}
		if len(txs) == 0 {
			if nonce, err = c.client.PendingNonceAt(ctx, from.Address); err != nil {
				return fmt.Errorf("devchain: nonce: %w", err)
			}
		}
		tx, err := types.SignNewTx(from.Key, signer, &types.DynamicFeeTx{
			ChainID:   signer.ChainID(),
			Nonce:     nonce + uint64(len(txs)),
			GasTipCap: gasTipCap,
			GasFeeCap: gasFeeCap,
			Gas:       params.TxGas,
			To:        &c.cfg.FundAccounts[i],
			Value:     new(big.Int).Set(fundAccountBalance),
		})
		if err != nil {
			return fmt.Errorf("devchain: sign transfer: %w", err)
		}
		txs = append(txs, pendingTx{tx: tx, what: "fund " + to.Hex()})
	}
	if len(txs) == 0 {
		return nil
	}
	receipts, err := c.sendAll(ctx, txs)
	if err != nil {
		return err
	}
	for i, r := range receipts {
		if r.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("devchain: %s failed", txs[i].what)
		}
	}
	c.log.Info("devchain: funded accounts", "count", len(txs))
	return nil
}

package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"
)

// Sender signs and sends transactions from one account. It owns that
// account's nonce: a mutex serialises nonce assignment and submission, the
// nonce starts at the pending nonce and is re-read after "nonce too low" or
// an uncertain submission. Waiting for receipts happens outside the lock, so
// transactions pipeline. Only one Sender per account and process.
type Sender struct {
	c    *Client
	key  *ecdsa.PrivateKey
	from common.Address

	mu        sync.Mutex
	nonce     uint64
	haveNonce bool
}

// NewSender returns a Sender for key (from keys.Keyring.PrivateKey()). The
// key stays in memory only; it is never logged.
func (c *Client) NewSender(key *ecdsa.PrivateKey) *Sender {
	return &Sender{c: c, key: key, from: crypto.PubkeyToAddress(key.PublicKey)}
}

// Address is the sending account.
func (s *Sender) Address() common.Address { return s.from }

// Client is the client the sender sends through.
func (s *Sender) Client() *Client { return s.c }

// Tx is a transaction that was sent and mined.
type Tx struct {
	Hash    common.Hash
	Receipt *types.Receipt
}

// gasMultiplier (1.1, as the reference node's gasMultiplier) pads the
// estimate, which can fall short when state moves between estimate and
// inclusion.
const (
	gasMulNum = 11
	gasMulDen = 10
)

// Transact sends contract.method(args) with value (nil: none) and waits for
// the receipt. A call that would revert is refused before anything is
// sent (ErrReverted); a mined transaction that failed is ErrReverted too,
// with the Tx returned.
func (s *Sender) Transact(ctx context.Context, value *big.Int, contract, method string, args ...any) (*Tx, error) {
	to, m, data, err := s.c.pack(contract, method, args...)
	if err != nil {
		return nil, err
	}
	tx, err := s.Send(ctx, to, value, data)
	if err != nil {
		return tx, fmt.Errorf("%s.%s: %w", contract, m.Name, err)
	}
	return tx, nil
}

// Send sends a transaction to `to` once and waits for its receipt.
func (s *Sender) Send(ctx context.Context, to common.Address, value *big.Int, data []byte) (*Tx, error) {
	if value == nil {
		value = new(big.Int)
	}
	gas, tip, feeCap, err := s.fees(ctx, to, value, data)
	if err != nil {
		return nil, markNotSent(err)
	}
	hash, err := s.submit(ctx, func(nonce uint64) (*types.Transaction, error) {
		return types.SignNewTx(s.key, types.LatestSignerForChainID(s.c.chainID), &types.DynamicFeeTx{
			ChainID: s.c.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap,
			Gas: gas, To: &to, Value: value, Data: data,
		})
	})
	if err != nil {
		return nil, err
	}
	r, err := s.c.WaitReceipt(ctx, hash)
	if err != nil {
		return &Tx{Hash: hash}, err
	}
	tx := &Tx{Hash: hash, Receipt: r}
	if r.Status != types.ReceiptStatusSuccessful {
		return tx, fmt.Errorf("%w: transaction %s failed in block %s", ErrReverted, hash, r.BlockNumber)
	}
	s.c.cfg.Logger.DebugContext(ctx, "transaction mined", "tx", hash, "from", s.from, "to", to, "gas_used", r.GasUsed)
	return tx, nil
}

// fees estimates gas and picks EIP-1559 fees: the suggested tip and twice
// the current base fee, so the transaction survives a few fuller blocks.
func (s *Sender) fees(ctx context.Context, to common.Address, value *big.Int, data []byte) (gas uint64, tip, feeCap *big.Int, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.c.cfg.CallTimeout)
	defer cancel()
	gas, err = s.c.eth.EstimateGas(cctx, ethereum.CallMsg{From: s.from, To: &to, Value: value, Data: data})
	if err != nil {
		return 0, nil, nil, s.c.err("estimate gas", err)
	}
	gas = gas * gasMulNum / gasMulDen
	tip, err = s.c.eth.SuggestGasTipCap(cctx)
	if err != nil {
		return 0, nil, nil, s.c.err("gas tip", err)
	}
	head, err := s.c.eth.HeaderByNumber(cctx, nil)
	if err != nil {
		return 0, nil, nil, s.c.err("head", err)
	}
	feeCap = new(big.Int).Set(tip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	return gas, tip, feeCap, nil
}

// submit assigns a nonce, signs and sends, under the lock. A nonce the pool
// says is used (by a transaction sent around this Sender, or after a
// restart) re-reads the pending nonce and tries again, a few times.
func (s *Sender) submit(ctx context.Context, sign func(nonce uint64) (*types.Transaction, error)) (common.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	const attempts = 4
	for i := 0; ; i++ {
		if !s.haveNonce {
			cctx, cancel := context.WithTimeout(ctx, s.c.cfg.CallTimeout)
			n, err := s.c.eth.PendingNonceAt(cctx, s.from)
			cancel()
			if err != nil {
				return common.Hash{}, markNotSent(s.c.err("pending nonce", err))
			}
			s.nonce, s.haveNonce = n, true
		}
		tx, err := sign(s.nonce)
		if err != nil {
			return common.Hash{}, fmt.Errorf("sign transaction: %w", markNotSent(err))
		}
		cctx, cancel := context.WithTimeout(ctx, s.c.cfg.CallTimeout)
		err = s.c.eth.SendTransaction(cctx, tx)
		cancel()
		switch {
		case err == nil || isAlreadyKnown(err):
			s.nonce++
			return tx.Hash(), nil
		case isNonceConflict(err) && i+1 < attempts:
			s.haveNonce = false
			continue
		case isRejection(err):
			// The node answered and refused: the nonce is still free.
			return common.Hash{}, markNotSent(s.c.err("send transaction", err))
		default:
			// The pool may or may not hold the transaction (a timeout after
			// the request left): read the nonce again next time rather than
			// guess.
			s.haveNonce = false
			return common.Hash{}, s.c.err("send transaction", err)
		}
	}
}

// errNotSent marks failures that happened before a transaction left the
// process: retrying them can never send a duplicate.
var errNotSent = errors.New("transaction not sent")

// notSent marks err with errNotSent without changing its message.
type notSent struct{ err error }

func (n notSent) Error() string   { return n.err.Error() }
func (n notSent) Unwrap() []error { return []error{n.err, errNotSent} }

func markNotSent(err error) error { return notSent{err} }

// isRejection reports whether the RPC node answered the submission with a
// JSON-RPC error (so it did not take the transaction).
func isRejection(err error) bool {
	var rpcErr rpc.Error
	return errors.As(err, &rpcErr)
}

func isAlreadyKnown(err error) bool {
	return strings.Contains(err.Error(), "already known")
}

func isNonceConflict(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "nonce too low") || strings.Contains(msg, "replacement transaction underpriced")
}

// isTxIndexing is go-ethereum's transient answer to a receipt lookup while
// its transaction indexer catches up; it means "retry", like NotFound.
func isTxIndexing(err error) bool {
	return strings.Contains(err.Error(), "transaction indexing is in progress")
}

// WaitReceipt polls for a transaction's receipt, up to ReceiptTimeout.
// NotFound and "transaction indexing is in progress" mean "not yet"; other
// errors are retried a few times in a row (a flaky RPC must not lose track of
// a transaction that may be mined) and then reported as ErrUnavailable: a
// dead chain must not hold the request for the whole timeout.
func (c *Client) WaitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReceiptTimeout)
	defer cancel()
	tick := time.NewTicker(c.cfg.ReceiptPoll)
	defer tick.Stop()
	var last error
	failures := 0
	const maxFailures = 3
	for {
		cctx, ccancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		r, err := c.eth.TransactionReceipt(cctx, hash)
		if err == nil {
			// A receipt can be served before the node's latest state includes
			// its block (geth's dev beacon, load-balanced RPCs); reads that
			// follow must see the transaction, so wait for the head too.
			var head uint64
			head, err = c.eth.BlockNumber(cctx)
			if err == nil && r.BlockNumber != nil && head >= r.BlockNumber.Uint64() {
				ccancel()
				return r, nil
			}
			if err == nil {
				err = ethereum.NotFound // not visible yet: poll again
			}
		}
		ccancel()
		if errors.Is(err, ethereum.NotFound) || isTxIndexing(err) {
			failures = 0
		} else {
			last = err
			if failures++; failures >= maxFailures {
				return nil, c.err(fmt.Sprintf("receipt of %s", hash), err)
			}
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return nil, c.err(fmt.Sprintf("receipt of %s", hash), last)
			}
			return nil, c.err(fmt.Sprintf("receipt of %s", hash), ctx.Err())
		case <-tick.C:
		}
	}
}

package devchain

import (
	"log/slog"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
)

// sealer seals a block whenever the transaction pool holds executable
// transactions. It replaces the on-demand loop of go-ethereum's
// catalyst.RegisterSimulatedBeaconAPIs, which seals only when a new-
// transaction event arrives and drops sealing errors into go-ethereum's
// global logger: a wakeup lost between its pool check and its next event,
// or one failed seal, left transactions in the pool with no block to come
// (seen in CI: a deployment waited two minutes for a receipt). Here every
// event, and a periodic check as a watchdog, asks the pool directly, so a
// transaction is sealed at most one period late whatever happened before.
type sealer struct {
	beacon *catalyst.SimulatedBeacon
	eth    *eth.Ethereum
	log    *slog.Logger
	period time.Duration // watchdog: how often the pool is checked without an event

	// watchdogOnly ignores pool events (tests: shows the periodic check
	// alone seals what an event would have).
	watchdogOnly bool

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// sealerPeriod bounds how late a transaction is sealed when its event was
// missed. Checking the pool's counters costs microseconds.
const sealerPeriod = 100 * time.Millisecond

// maxEmptyBlocks bounds the empty blocks sealed in a row while the pool still
// reports executable transactions (a transaction the pool accepts but the
// block builder refuses would otherwise make the sealer spin).
const maxEmptyBlocks = 3

func newSealer(beacon *catalyst.SimulatedBeacon, backend *eth.Ethereum, log *slog.Logger) *sealer {
	return &sealer{beacon: beacon, eth: backend, log: log, period: sealerPeriod,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Start implements node.Lifecycle.
func (s *sealer) Start() error {
	go s.loop()
	return nil
}

// Stop implements node.Lifecycle; it returns once no seal is in progress. It
// is registered after the beacon and the eth service, so it stops first.
func (s *sealer) Stop() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *sealer) loop() {
	defer close(s.done)
	// The pool delivers events from its reorg loop and blocks until they are
	// taken, while Commit waits for that same loop (TxPool.Sync): events must
	// never wait for a seal. The pump turns them into at most one pending
	// wakeup, and the sealing goroutine (this one) takes it when it is free.
	events := make(chan core.NewTxsEvent)
	wake := make(chan struct{}, 1)
	sub := s.eth.TxPool().SubscribeTransactions(events, true)
	defer sub.Unsubscribe()
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		for {
			select {
			case <-s.stop:
				return
			case <-sub.Err():
				return
			case <-events:
				if s.watchdogOnly {
					continue
				}
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	defer func() { <-pumpDone }()

	tick := time.NewTicker(s.period)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-pumpDone:
			return
		case <-wake:
		case <-tick.C:
		}
		s.sealPending()
	}
}

// sealPending seals blocks until the pool has no executable transaction, a
// seal fails (the next event or tick retries), or blocks come out empty.
func (s *sealer) sealPending() {
	pool := s.eth.TxPool()
	chain := s.eth.BlockChain()
	empty := 0
	for empty < maxEmptyBlocks {
		// The pool drops mined transactions in a background reset after
		// each new head; without waiting for it, Stats would still count
		// them and the sealer would make an empty block.
		if err := pool.Sync(); err != nil {
			return // the pool is shutting down
		}
		if executable, _ := pool.Stats(); executable == 0 {
			return
		}
		select {
		case <-s.stop:
			return
		default:
		}
		before := chain.CurrentBlock().Number.Uint64()
		s.beacon.Commit()
		head := chain.CurrentBlock()
		if head.Number.Uint64() == before {
			// Commit logs its error to go-ethereum's global logger only.
			s.log.Warn("devchain: sealing made no block; retrying on the next transaction or tick", "head", before)
			return
		}
		if block := chain.GetBlock(head.Hash(), head.Number.Uint64()); block != nil && len(block.Transactions()) == 0 {
			empty++
		} else {
			empty = 0
		}
	}
	s.log.Warn("devchain: the pool reports executable transactions that blocks do not include", "empty_blocks", empty)
}

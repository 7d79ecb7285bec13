// Package devchain runs a local Ethereum chain inside the process, with the
// Nevermined v3 contracts deployed, initialized and wired, and their artifacts
// written in the layout Nevermined clients read (`<Contract>.<network>.json`).
//
// The chain is a go-ethereum node in dev mode: a simulated beacon with period
// 0 seals a block as soon as transactions reach the pool, exactly as
// `geth --dev` does, so callers send transactions over JSON-RPC and wait for
// receipts as on any chain, with no Commit calls. The node serves HTTP
// JSON-RPC on loopback and keeps its database under the data directory, so a
// restart finds the chain and the deployment again instead of redeploying.
package devchain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	gethlog "github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// Defaults of Config.
const (
	DefaultChainID     = 8996 // "spree": the chain id the official SDK can talk to locally (CONTRACTS.md)
	DefaultHTTPAddr    = "127.0.0.1:0"
	DefaultDevAccounts = 5

	// SDKDefaultPort is the port @nevermined-io/sdk 3.1.2 dials for chain
	// 8996 when ETH_PORT is unset: it ignores the RPC URL it is given
	// (CONTRACTS.md), so a chain serving the official SDK listens there.
	SDKDefaultPort = 18545
)

// Balances given to accounts at genesis (and topped up to, for FundAccounts).
var (
	devAccountBalance  = new(big.Int).Mul(big.NewInt(1_000_000_000), big.NewInt(1e18)) // 1e9 ETH
	fundAccountBalance = new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))     // 1e6 ETH
)

// Config configures Start.
type Config struct {
	// DataDir holds the chain database, the genesis, the deployment record
	// and (by default) the artifacts. Required. Reusing it keeps the chain.
	DataDir string
	// ChainID of the chain; 0 means DefaultChainID. It must match the chain
	// already in DataDir, if any. Artifact files are named after its network
	// (contracts.NetworkName), so it must be one Nevermined knows.
	ChainID uint64
	// HTTPAddr is the loopback host:port the JSON-RPC server listens on;
	// port 0 picks a free port. Empty means DefaultHTTPAddr.
	HTTPAddr string
	// Contracts is the compiled contract set to deploy. Required.
	Contracts *contracts.Set
	// ArtifactsDir is where artifact files go; empty means DataDir/artifacts.
	ArtifactsDir string
	// DevAccounts is how many deterministic accounts to fund (see
	// DevAccounts); 0 means DefaultDevAccounts. Account 0 owns the contracts.
	DevAccounts int
	// FundAccounts get ether too: at genesis on a new chain, and by a
	// transfer from account 0 on a later start if their balance is low.
	FundAccounts []common.Address
	// Logger receives progress and go-ethereum's warnings; nil discards.
	Logger *slog.Logger
}

// Chain is a running dev chain. Its methods are safe for concurrent use.
type Chain struct {
	cfg      Config
	log      *slog.Logger
	stack    *node.Node
	backend  *eth.Ethereum
	beacon   *catalyst.SimulatedBeacon
	sealer   *sealer
	client   *ethclient.Client
	accounts []Account
	network  string
	deployed *record
	ready    time.Duration

	closeOnce sync.Once
	closeErr  error
}

// Start opens (or creates) the chain in cfg.DataDir, starts the JSON-RPC
// server, deploys the contracts unless DataDir already holds a deployment
// whose code is on chain, writes the artifacts and returns once all of it is
// done. Close releases everything Start acquired, also when Start fails.
func Start(ctx context.Context, cfg Config) (*Chain, error) {
	began := time.Now()
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	network, err := contracts.NetworkName(cfg.ChainID)
	if err != nil {
		return nil, fmt.Errorf("devchain: %w", err)
	}
	if err := cfg.Contracts.Validate(); err != nil {
		return nil, fmt.Errorf("devchain: compiled contracts: %w", err)
	}
	host, port, err := loopbackHostPort(cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	accounts, err := DevAccounts(cfg.DevAccounts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("devchain: %w", err)
	}
	genesis, err := loadOrCreateGenesis(cfg.DataDir, cfg.ChainID, accounts, cfg.FundAccounts)
	if err != nil {
		return nil, err
	}

	c := &Chain{cfg: cfg, log: cfg.Logger, accounts: accounts, network: network}
	c.stack, err = node.New(&node.Config{
		Name:             "geth",
		DataDir:          filepath.Join(cfg.DataDir, "node"),
		HTTPHost:         host,
		HTTPPort:         port,
		HTTPModules:      []string{"eth", "net", "web3", "txpool"},
		HTTPVirtualHosts: []string{"localhost"},
		HTTPTimeouts:     rpc.DefaultHTTPTimeouts,
		// No peers: no listener, no discovery, and MaxPeers 0 leaves nothing to dial.
		P2P:    p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""},
		Logger: gethlog.NewLogger(warnOnly{cfg.Logger.Handler()}),
	})
	if err != nil {
		return nil, fmt.Errorf("devchain: new node: %w", err)
	}
	if err := c.startNode(genesis); err != nil {
		return nil, errors.Join(err, c.closeStack())
	}
	c.client = ethclient.NewClient(c.stack.Attach())
	c.log.Debug("devchain: node started", "took", time.Since(began).Round(time.Millisecond))

	if err := c.deployOrReuse(ctx); err != nil {
		return nil, errors.Join(err, c.Close(context.Background()))
	}
	if err := c.topUp(ctx); err != nil {
		return nil, errors.Join(err, c.Close(context.Background()))
	}
	if err := writeArtifacts(c.ArtifactsDir(), network, cfg.Contracts, c.deployed.Contracts); err != nil {
		return nil, errors.Join(err, c.Close(context.Background()))
	}
	c.ready = time.Since(began)
	c.log.Info("devchain ready", "rpc", c.RPCURL(), "chain_id", cfg.ChainID, "network", network,
		"owner", accounts[0].Address, "artifacts", c.ArtifactsDir(), "took", c.ready.Round(time.Millisecond))
	return c, nil
}

func (cfg *Config) fill() error {
	if cfg.DataDir == "" {
		return errors.New("devchain: Config.DataDir is required")
	}
	if cfg.Contracts == nil {
		return errors.New("devchain: Config.Contracts is required")
	}
	if cfg.ChainID == 0 {
		cfg.ChainID = DefaultChainID
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.DevAccounts == 0 {
		cfg.DevAccounts = DefaultDevAccounts
	}
	if cfg.DevAccounts < 1 {
		return fmt.Errorf("devchain: Config.DevAccounts = %d, need at least 1", cfg.DevAccounts)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("devchain: %w", err)
	}
	cfg.DataDir = abs
	if cfg.ArtifactsDir == "" {
		cfg.ArtifactsDir = filepath.Join(abs, "artifacts")
	}
	return nil
}

// loopbackHostPort splits addr and refuses hosts off the loopback interface:
// the chain's keys are public, so its RPC must not be reachable from outside.
func loopbackHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("devchain: HTTPAddr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("devchain: HTTPAddr %q: bad port", addr)
	}
	if host == "localhost" {
		return "127.0.0.1", port, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("devchain: HTTPAddr %q: host must be a loopback address", addr)
	}
	return host, port, nil
}

// startNode registers the eth service, log filters and the dev-mode beacon on
// the stack and starts it. It mirrors what `geth --dev --dev.period 0` wires.
func (c *Chain) startNode(genesis *genesisFile) error {
	ethCfg := ethconfig.Defaults
	ethCfg.Genesis = genesis.Genesis
	ethCfg.NetworkId = c.cfg.ChainID
	ethCfg.SyncMode = ethconfig.FullSync
	ethCfg.Miner.PendingFeeRecipient = c.accounts[0].Address
	ethCfg.Miner.GasCeil = genesis.Genesis.GasLimit
	// A dev chain holds little state; geth's mainnet-sized caches would
	// reserve gigabytes per test.
	ethCfg.DatabaseCache = 16
	ethCfg.TrieCleanCache = 16
	ethCfg.TrieDirtyCache = 16
	ethCfg.SnapshotCache = 16
	// The dev beacon seals blocks while the pool has executable
	// transactions. A transaction the pool accepts but the miner refuses
	// (tip between the pool's floor and the miner's, 0.001 gwei by default)
	// would make it seal empty blocks forever, so both floors are 1 wei.
	ethCfg.Miner.GasPrice = big.NewInt(1)
	ethCfg.TxPool.PriceLimit = 1
	// New transactions wait in the pool's per-account queue until its
	// background reorg promotes them; beyond AccountQueue (64 by default)
	// it drops the highest nonces. The deployment sends 104 transactions
	// from one account at once, so on a slow machine its last ones were
	// dropped and never mined (CI stalls waiting for the last receipt).
	// A dev chain has a handful of accounts: room for thousands each.
	ethCfg.TxPool.AccountQueue = 4096
	ethCfg.TxPool.GlobalQueue = 16384
	ethCfg.TxPool.AccountSlots = 4096
	ethCfg.TxPool.GlobalSlots = 16384
	ethCfg.TxPool.Journal = ""
	ethCfg.TxPool.NoLocals = true
	// Archive mode on the hash scheme writes every block's state to the
	// database as the block is sealed. The default (path scheme) keeps the
	// last 128 blocks of state in memory until a clean shutdown, so a killed
	// `node dev` would lose its recent transactions, or its contracts.
	ethCfg.StateScheme = rawdb.HashScheme
	ethCfg.NoPruning = true

	backend, err := eth.New(c.stack, &ethCfg)
	if err != nil {
		return fmt.Errorf("devchain: eth service: %w", err)
	}
	c.backend = backend
	filterSystem := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	c.stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(filterSystem)}})

	beacon, err := catalyst.NewSimulatedBeacon(0, c.accounts[0].Address, backend)
	if err != nil {
		return fmt.Errorf("devchain: simulated beacon: %w", err)
	}
	// Period 0: the beacon seals only when asked. Our sealer asks whenever
	// the pool has executable transactions (see sealer for why not
	// catalyst.RegisterSimulatedBeaconAPIs' own loop).
	c.stack.RegisterLifecycle(beacon)
	c.beacon = beacon
	c.sealer = newSealer(beacon, backend, c.log)
	c.stack.RegisterLifecycle(c.sealer)

	if err := c.stack.Start(); err != nil {
		return fmt.Errorf("devchain: start node: %w", err)
	}
	return nil
}

// RPCURL is the HTTP JSON-RPC endpoint, e.g. http://127.0.0.1:41234.
func (c *Chain) RPCURL() string { return c.stack.HTTPEndpoint() }

// ChainID is the chain id.
func (c *Chain) ChainID() uint64 { return c.cfg.ChainID }

// NetworkName is the Nevermined network name of the chain id ("spree" for 8996).
func (c *Chain) NetworkName() string { return c.network }

// ArtifactsDir is the folder holding `<Contract>.<network>.json`.
func (c *Chain) ArtifactsDir() string { return c.cfg.ArtifactsDir }

// Accounts returns the funded dev accounts; account 0 owns the contracts.
func (c *Chain) Accounts() []Account { return append([]Account(nil), c.accounts...) }

// Owner is the account that deployed and administers the contracts.
func (c *Chain) Owner() Account { return c.accounts[0] }

// Addresses returns the deployed address of every contract, by name.
func (c *Chain) Addresses() map[string]common.Address {
	out := make(map[string]common.Address, len(c.deployed.Contracts))
	for k, v := range c.deployed.Contracts {
		out[k] = v
	}
	return out
}

// Address returns the deployed address of one contract.
func (c *Chain) Address(name string) (common.Address, error) {
	a, ok := c.deployed.Contracts[name]
	if !ok {
		return common.Address{}, fmt.Errorf("devchain: %w: %q", contracts.ErrUnknownContract, name)
	}
	return a, nil
}

// Deployed reports whether this Start deployed the contracts (true) or found
// an existing deployment in the data directory (false).
func (c *Chain) Deployed() bool { return c.deployed.fresh }

// ReadyIn is how long Start took.
func (c *Chain) ReadyIn() time.Duration { return c.ready }

// Client returns an in-process client of the chain; it is closed by Close.
func (c *Chain) Client() *ethclient.Client { return c.client }

// Close stops the RPC server and the node and flushes the chain to disk. It
// may be called more than once; ctx bounds the wait.
func (c *Chain) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() {
			if c.client != nil {
				c.client.Close()
			}
			done <- c.closeStack()
		}()
		select {
		case c.closeErr = <-done:
		case <-ctx.Done():
			c.closeErr = fmt.Errorf("devchain: close: %w", ctx.Err())
		}
	})
	return c.closeErr
}

func (c *Chain) closeStack() error {
	if c.stack == nil {
		return nil
	}
	if err := c.stack.Close(); err != nil && !errors.Is(err, node.ErrNodeStopped) {
		return fmt.Errorf("devchain: close node: %w", err)
	}
	return nil
}

// warnOnly passes go-ethereum's warnings and errors to the caller's handler;
// its info and debug chatter would drown the node's own logs.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnOnly{w.Handler.WithAttrs(attrs)}
}

func (w warnOnly) WithGroup(name string) slog.Handler {
	return warnOnly{w.Handler.WithGroup(name)}
}

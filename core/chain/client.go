package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// Defaults of Config.
const (
	DefaultCallTimeout    = 10 * time.Second
	DefaultReceiptTimeout = 2 * time.Minute
	DefaultReceiptPoll    = 500 * time.Millisecond
	DefaultLogChunk       = 5000
	DefaultCacheSize      = 100_000
)

// Config configures a Client.
type Config struct {
	// RPCURL is the JSON-RPC endpoint. It may embed an API key: it never
	// appears in errors or logs.
	RPCURL string
	// ChainID is the expected chain id; 0 asks the chain at Dial.
	ChainID uint64
	// ArtifactsFolder holds `<Contract>.<network>.json`.
	ArtifactsFolder string
	// Network names the artifacts; empty derives it from the chain id.
	Network string
	// CallTimeout bounds each RPC request.
	CallTimeout time.Duration
	// ReceiptTimeout bounds the wait for a transaction's receipt.
	ReceiptTimeout time.Duration
	// ReceiptPoll is the receipt polling interval.
	ReceiptPoll time.Duration
	// LogChunk is the widest block range of one eth_getLogs request: many
	// public RPCs cap it (some at 1000 blocks, or fewer).
	LogChunk uint64
	// LogLookback limits agreement searches to the last LogLookback blocks
	// (0: no limit); FromBlock is the first block ever searched (the
	// deployment block of the contracts, typically).
	LogLookback uint64
	FromBlock   uint64
	// CacheSize bounds the caches of immutable facts (fulfilled
	// conditions, created agreements).
	CacheSize int
	// Logger receives transaction logs; nil discards.
	Logger *slog.Logger
}

func (cfg *Config) fill() {
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.ReceiptTimeout <= 0 {
		cfg.ReceiptTimeout = DefaultReceiptTimeout
	}
	if cfg.ReceiptPoll <= 0 {
		cfg.ReceiptPoll = DefaultReceiptPoll
	}
	if cfg.LogChunk == 0 {
		cfg.LogChunk = DefaultLogChunk
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
}

// Client is the node's connection to the chain and the Nevermined
// contracts. It is safe for concurrent use.
type Client struct {
	cfg        Config
	rpc        *rpc.Client
	eth        *ethclient.Client
	chainID    *big.Int
	contracts  *Contracts
	fulfilled  *hashSet
	agreements *boundedMap[common.Hash, *Agreement]
}

// Dial connects to cfg.RPCURL and loads the contract handles. With
// cfg.ChainID and cfg.Network both set it needs no answer from the chain;
// otherwise an unreachable chain is an ErrUnavailable.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg.fill()
	if cfg.RPCURL == "" {
		return nil, errors.New("chain: no RPC URL configured")
	}
	rc, err := rpc.DialOptions(ctx, cfg.RPCURL)
	if err != nil {
		return nil, fmt.Errorf("chain RPC %s: %s", RedactURL(cfg.RPCURL), redact(cfg.RPCURL, err.Error()))
	}
	c := &Client{cfg: cfg, rpc: rc, eth: ethclient.NewClient(rc),
		fulfilled: newHashSet(cfg.CacheSize), agreements: newBoundedMap[common.Hash, *Agreement](cfg.CacheSize)}
	if err := c.init(ctx); err != nil {
		rc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) init(ctx context.Context) error {
	id := c.cfg.ChainID
	if id == 0 || c.cfg.Network == "" {
		cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		got, err := c.eth.ChainID(cctx)
		cancel()
		if err != nil {
			return classify(c.cfg.RPCURL, "chain id", err)
		}
		if !got.IsUint64() || (id != 0 && got.Uint64() != id) {
			return fmt.Errorf("chain answered chain id %s, configured %d", got, id)
		}
		id = got.Uint64()
	}
	c.chainID = new(big.Int).SetUint64(id)
	network := c.cfg.Network
	if network == "" {
		n, err := contracts.NetworkName(id)
		if err != nil {
			return fmt.Errorf("chain id %d: %w", id, err)
		}
		network = n
	}
	cs, err := LoadContracts(c.cfg.ArtifactsFolder, network)
	if err != nil {
		return err
	}
	if err := cs.require(contracts.AgreementStoreManager, contracts.ConditionStoreManager, contracts.DIDRegistry); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	c.contracts = cs
	return nil
}

// Close releases the connection.
func (c *Client) Close() { c.rpc.Close() }

// ChainID is the chain's id.
func (c *Client) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Contracts returns the contract handles.
func (c *Client) Contracts() *Contracts { return c.contracts }

// Eth returns the underlying go-ethereum client, for reads this package
// does not wrap. Its errors are not classified.
func (c *Client) Eth() *ethclient.Client { return c.eth }

func (c *Client) err(op string, err error) error { return classify(c.cfg.RPCURL, op, err) }

// pack encodes a call of contract.method (name or full signature).
func (c *Client) pack(contract, method string, args ...any) (common.Address, *abi.Method, []byte, error) {
	ct, err := c.contracts.Get(contract)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	m, err := ct.Method(method)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	in, err := m.Inputs.Pack(args...)
	if err != nil {
		return common.Address{}, nil, nil, fmt.Errorf("%s.%s: %w", contract, method, err)
	}
	return ct.Address, m, append(append([]byte{}, m.ID...), in...), nil
}

// Call runs a view method of a contract (method is a name or a full
// signature for overloads) and returns its decoded outputs.
func (c *Client) Call(ctx context.Context, contract, method string, args ...any) ([]any, error) {
	ct, err := c.contracts.Get(contract)
	if err != nil {
		return nil, err
	}
	m, err := ct.Method(method)
	if err != nil {
		return nil, err
	}
	vals, err := c.callAt(ctx, ct.Address, m, args...)
	if err != nil {
		return nil, fmt.Errorf("%s.%w", contract, err)
	}
	return vals, nil
}

// callAt runs method m of the ABI at address to.
func (c *Client) callAt(ctx context.Context, to common.Address, m *abi.Method, args ...any) ([]any, error) {
	in, err := m.Inputs.Pack(args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	out, err := c.eth.CallContract(ctx, ethereum.CallMsg{To: &to, Data: append(append([]byte{}, m.ID...), in...)}, nil)
	if err != nil {
		return nil, c.err(m.Name, err)
	}
	vals, err := m.Outputs.Unpack(out)
	if err != nil {
		// An empty answer is what a call to an address without code gives.
		return nil, fmt.Errorf("%s: %w: %w", m.Name, ErrReverted, err)
	}
	return vals, nil
}

// Balance returns the ether balance of an account.
func (c *Client) Balance(ctx context.Context, account common.Address) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	b, err := c.eth.BalanceAt(ctx, account, nil)
	if err != nil {
		return nil, c.err("balance", err)
	}
	return b, nil
}

// NonceAt returns the number of transactions account has mined.
func (c *Client) NonceAt(ctx context.Context, account common.Address) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	n, err := c.eth.NonceAt(ctx, account, nil)
	if err != nil {
		return 0, c.err("nonce", err)
	}
	return n, nil
}

// BlockNumber returns the latest block number.
func (c *Client) BlockNumber(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	n, err := c.eth.BlockNumber(ctx)
	if err != nil {
		return 0, c.err("block number", err)
	}
	return n, nil
}

// Result returns the single decoded output of a Call or CallAt as a T, for
// callers outside this package.
func Result[T any](vals []any, err error) (T, error) { return one[T](vals, err) }

func one[T any](vals []any, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if len(vals) == 0 {
		return zero, fmt.Errorf("%w: empty answer", ErrReverted)
	}
	v, ok := vals[0].(T)
	if !ok {
		return zero, fmt.Errorf("%w: unexpected answer type %T", ErrReverted, vals[0])
	}
	return v, nil
}

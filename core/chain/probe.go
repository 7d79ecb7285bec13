package chain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// Status is what the node knows of its chain at one moment. Reason is safe to
// show to clients: it never holds the RPC URL (which may embed an API key).
type Status struct {
	Configured    bool
	Available     bool
	ChainID       uint64
	Network       string
	Reason        string
	Contracts     []ContractRef
	KeeperVersion string
}

// ProberConfig configures a Prober.
type ProberConfig struct {
	RPCURL          string
	ExpectedChainID uint64 // 0: accept any
	ArtifactsFolder string
	Interval        time.Duration
	Timeout         time.Duration
	Logger          *slog.Logger
}

// Prober keeps a current Status by asking the chain for its id periodically.
// Status is cheap and safe for concurrent use; Run does the polling.
type Prober struct {
	cfg    ProberConfig
	client *ethclient.Client
	cur    atomic.Pointer[Status]
}

// NewProber returns a Prober whose first Status says the chain has not been
// checked yet. It does not touch the network.
func NewProber(cfg ProberConfig) (*Prober, error) {
	p := &Prober{cfg: cfg}
	if cfg.Logger == nil {
		p.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st := &Status{Configured: cfg.RPCURL != "", Reason: "chain not checked yet"}
	if !st.Configured {
		st.Reason = "no chain configured (chain.rpc_url / WEB3_PROVIDER_URL is empty)"
	} else {
		c, err := rpc.DialOptions(context.Background(), cfg.RPCURL)
		if err != nil {
			return nil, fmt.Errorf("chain RPC %s: %s", RedactURL(cfg.RPCURL), p.sanitize(err))
		}
		p.client = ethclient.NewClient(c)
	}
	p.fillContracts(st, networkName(cfg.ExpectedChainID))
	p.cur.Store(st)
	return p, nil
}

// Status returns the latest status. The pointer changes only when the status
// does, so callers may cache work keyed on it.
func (p *Prober) Status() *Status { return p.cur.Load() }

// Run checks the chain now and then every Interval until ctx ends.
func (p *Prober) Run(ctx context.Context) {
	if p.client == nil {
		return
	}
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check asks the chain for its id once and updates Status.
func (p *Prober) Check(ctx context.Context) *Status {
	if p.client == nil {
		return p.Status()
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	st := &Status{Configured: true}
	id, err := p.client.ChainID(ctx)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		st.Reason = fmt.Sprintf("chain did not answer within %s", p.cfg.Timeout)
	case err != nil:
		st.Reason = "chain unreachable"
	case !id.IsUint64():
		st.Reason = "chain answered an invalid chain id"
	case p.cfg.ExpectedChainID != 0 && id.Uint64() != p.cfg.ExpectedChainID:
		st.ChainID = id.Uint64()
		st.Reason = fmt.Sprintf("chain answered chain id %d, configured chain.chain_id is %d", id.Uint64(), p.cfg.ExpectedChainID)
	default:
		st.Available = true
		st.ChainID = id.Uint64()
	}
	network := networkName(st.ChainID)
	if st.ChainID == 0 {
		network = networkName(p.cfg.ExpectedChainID)
	}
	p.fillContracts(st, network)
	prev := p.Status()
	if !sameStatus(prev, st) {
		if err != nil {
			p.cfg.Logger.WarnContext(ctx, "chain unavailable", "reason", st.Reason, "error", p.sanitize(err))
		} else {
			p.cfg.Logger.InfoContext(ctx, "chain status", "available", st.Available, "chain_id", st.ChainID, "network", st.Network, "reason", st.Reason)
		}
		p.cur.Store(st)
		return st
	}
	return prev
}

// Client is the RPC client to the configured chain, nil when none is
// configured.
func (p *Prober) Client() *ethclient.Client { return p.client }

// Close releases the RPC connection.
func (p *Prober) Close() {
	if p.client != nil {
		p.client.Close()
	}
}

func (p *Prober) fillContracts(st *Status, network string) {
	if network == "" {
		network, _ = DetectNetwork(p.cfg.ArtifactsFolder)
	}
	st.Network = network
	refs, err := ReadDeployment(p.cfg.ArtifactsFolder, network)
	if err != nil {
		if !errors.Is(err, ErrNoArtifacts) {
			p.cfg.Logger.Warn("artifacts folder unreadable", "error", err)
		}
		return
	}
	st.Contracts = refs
	for _, r := range refs {
		if r.Name == "DIDRegistry" {
			st.KeeperVersion = r.Version
		}
	}
}

func sameStatus(a, b *Status) bool {
	if a.Configured != b.Configured || a.Available != b.Available || a.ChainID != b.ChainID ||
		a.Network != b.Network || a.Reason != b.Reason || a.KeeperVersion != b.KeeperVersion || len(a.Contracts) != len(b.Contracts) {
		return false
	}
	for i := range a.Contracts {
		if a.Contracts[i] != b.Contracts[i] {
			return false
		}
	}
	return true
}

// sanitize removes the RPC URL from an error text: go-ethereum quotes it, and
// it may carry an API key.
func (p *Prober) sanitize(err error) string {
	s := err.Error()
	if p.cfg.RPCURL != "" {
		s = strings.ReplaceAll(s, p.cfg.RPCURL, RedactURL(p.cfg.RPCURL))
		if u, perr := url.Parse(p.cfg.RPCURL); perr == nil {
			u.RawQuery = ""
			s = strings.ReplaceAll(s, u.String(), RedactURL(p.cfg.RPCURL))
		}
	}
	return s
}

// RedactURL keeps a URL's scheme and host and masks the rest, where API keys
// live.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<invalid URL>"
	}
	if u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/<redacted>"
}

// KeeperURL is the reference node's `keeper-url`: scheme and host of the RPC
// URL.
func KeeperURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// networkName is the Nevermined network name of a chain id, or "" when the
// id is unknown (or 0, not known yet).
func networkName(chainID uint64) string {
	n, err := contracts.NetworkName(chainID)
	if err != nil {
		return ""
	}
	return n
}

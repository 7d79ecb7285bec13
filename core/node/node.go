package node

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nvm-node/nvm-node/core/api"
	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/core/keys"
	"github.com/nvm-node/nvm-node/core/pluginhost"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
)

// Options configure a Node.
type Options struct {
	Config  *config.Config
	Version string
	Logger  *slog.Logger
	// Listener, when set, is served instead of listening on the configured
	// host and port (tests use it).
	Listener net.Listener
}

// Node is one running Nevermined node.
type Node struct {
	cfg      *config.Config
	log      *slog.Logger
	keys     *keys.Keyring
	prober   *chain.Prober
	metadata *store.Store
	authz    *lazyAuthorizer
	plugins  *pluginhost.Host
	srv      *http.Server
	ln       net.Listener
	draining atomic.Bool
}

// New decrypts the keys, builds the API and binds the listener, so that a
// misconfiguration fails here, before Run.
func New(ctx context.Context, opts Options) (*Node, error) {
	cfg := opts.Config
	log := opts.Logger
	password, err := providerPassword(cfg.Keys)
	if err != nil {
		return nil, err
	}
	kr, err := keys.LoadKeyring(keys.Sources{
		ProviderKeyfile:   cfg.Keys.ProviderKeyfile,
		ProviderPassword:  password,
		RSAPrivateKeyFile: cfg.Keys.RSAPrivateKeyFile,
		RSAPublicKeyFile:  cfg.Keys.RSAPublicKeyFile,
	})
	if err != nil {
		// Keys that do not load are a configuration problem (exit status 2,
		// as every other one), whatever the reason.
		return nil, fmt.Errorf("%w: loading keys: %w", config.ErrInvalid, err)
	}
	prober, err := chain.NewProber(chain.ProberConfig{
		RPCURL:          cfg.Chain.RPCURL,
		ExpectedChainID: cfg.Chain.ChainID,
		ArtifactsFolder: cfg.Chain.ArtifactsFolder,
		Interval:        cfg.Chain.ProbeInterval,
		Timeout:         cfg.Chain.RequestTimeout,
		Logger:          log.With("component", "chain"),
	})
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, keys: kr, prober: prober}
	fail := func(err error) (*Node, error) {
		n.closeResources()
		return nil, err
	}
	var reader auth.ContractReader
	if c := prober.Client(); c != nil {
		reader = c // only when set: a nil *ethclient.Client in the interface would not be nil
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{
		Chain:  reader,
		MaxAge: cfg.Limits.Replay.MaxAssertionAge,
		Replay: auth.NewMemoryReplayStore(cfg.Limits.Replay.MaxEntries, cfg.Limits.Replay.PerClient),
	})
	if err != nil {
		return fail(err)
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(cfg.Auth.JWTSecret), TTL: cfg.Auth.JWTExpiry})
	if err != nil {
		return fail(err)
	}
	// DDOs: the node's own store first, then the marketplace API, cached.
	var sources asset.Chain
	var cache *asset.Cache
	var guard store.Guard
	if cfg.Asset.StorePath != "" {
		onChange := func(did asset.DID) {
			if cache != nil {
				cache.Invalidate(did)
			}
		}
		if n.metadata, err = store.Open(cfg.Asset.StorePath, store.Options{OnChange: onChange}); err != nil {
			return fail(err)
		}
		sources = append(sources, n.metadata)
		guard = &store.OwnerGuard{
			Verify: func(ctx context.Context, assertion string) (common.Address, error) {
				a, err := verifier.Verify(ctx, assertion)
				if err != nil {
					return common.Address{}, err
				}
				return a.Claims.Issuer, nil
			},
			// Logins are exchanges: the SDK's identical logins within a second
			// get the same token (auth.Verifier.Exchange).
			Exchange: func(ctx context.Context, assertion string, issue func(common.Address, time.Time) (string, error)) (string, error) {
				tok, _, err := verifier.Exchange(ctx, assertion, func(_ context.Context, a *auth.Assertion, _ bool, at time.Time) (string, error) {
					return issue(a.Claims.Issuer, at)
				})
				if errors.Is(err, auth.ErrReplayQuota) {
					return "", fmt.Errorf("%w: %w", store.ErrTooMany, err)
				}
				return tok, err
			},
			// Its own key, derived from the JWT secret, so that an access token
			// can never pass for a metadata write token or the reverse.
			Secret: deriveKey(cfg.Auth.JWTSecret, "nvm-node metadata store tokens v1"),
			TTL:    cfg.Auth.JWTExpiry,
		}
	}
	fetcher := marketplace.NewFetcher(marketplace.Options{AllowPrivate: cfg.Storage.AllowPrivateURLs})
	if cfg.Asset.MarketplaceURI != "" {
		mp, err := marketplace.New(cfg.Asset.MarketplaceURI, marketplace.Options{AllowPrivate: cfg.Storage.AllowPrivateURLs})
		if err != nil {
			return fail(err)
		}
		sources = append(sources, mp)
		fetcher = mp
	}
	var authorizer api.Authorizer
	var seller api.NFTSeller
	var charger api.Charger
	if cfg.Chain.RPCURL != "" {
		n.authz = &lazyAuthorizer{cfg: cfg, keys: kr, audit: log.With("component", "audit")}
		authorizer, seller, charger = n.authz, n.authz, n.authz
		// Last resort: the DDO URL the DID registry records.
		sources = append(sources, asset.RegistryResolver{Source: n.authz, Fetcher: fetcher})
	}
	cache = asset.NewCache(sources, asset.CacheOptions{})
	if n.authz != nil {
		n.authz.resolver = cache
	}
	n.plugins = pluginhost.New(pluginhost.Options{Logger: log.With("component", "plugins"), WASMCacheDir: wasmCacheDir(cfg)})
	if err := n.plugins.Load(ctx, cfg.Plugins); err != nil {
		return fail(fmt.Errorf("plugins: %w", err))
	}
	files, err := fileRoutes(cfg, n.plugins)
	if err != nil {
		return fail(err)
	}

	upload, err := uploadConfig(ctx, cfg, n.plugins)
	if err != nil {
		return fail(err)
	}

	limiter, clients, err := admissionFor(cfg)
	if err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), n.plugins.Collector())
	handler, err := api.New(api.Config{
		Version:      opts.Version,
		Keys:         kr,
		Chain:        prober,
		Logger:       log.With("component", "api"),
		Metrics:      reg,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		AccessLog: api.AccessLog{
			Off:        cfg.Log.Access == config.AccessLogOff,
			OnlyErrors: cfg.Log.Access == config.AccessLogErrors,
			Slow:       cfg.Log.AccessSlow,
		},
		PublicURL:       cfg.Server.PublicURL,
		TrustProxy:      cfg.Server.TrustProxy,
		RPCURL:          cfg.Chain.RPCURL,
		ArtifactsFolder: cfg.Chain.ArtifactsFolder,
		CircuitsFolder:  cfg.Chain.CircuitsFolder,
		Provenance:      cfg.Chain.Provenance,
		BabyjubX:        cfg.Keys.BabyjubPublicX,
		BabyjubY:        cfg.Keys.BabyjubPublicY,
		Draining:        n.draining.Load,
		Verifier:        verifier,
		Tokens:          tokens,
		Metadata:        n.metadata,
		MetadataGuard:   guard,
		Resolver:        cache,
		Files:           files,
		Authorizer:      authorizer,
		NFTSeller:       seller,
		Charger:         charger,
		Upload:          upload,
		Limiter:         limiter,
		Clients:         clients,
		UploadLimits: api.UploadLimits{
			MinRate:     cfg.Limits.Upload.MinRate,
			Grace:       cfg.Limits.Upload.Grace,
			BufferBytes: cfg.Limits.Upload.BufferBytes,
		},
	})
	if err != nil {
		return fail(err)
	}
	n.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	n.ln = opts.Listener
	if n.ln == nil {
		addr := net.JoinHostPort(cfg.Server.Host, strconv.Itoa(cfg.Server.Port))
		var lc net.ListenConfig
		if n.ln, err = lc.Listen(ctx, "tcp", addr); err != nil {
			return fail(fmt.Errorf("listen on %s: %w", addr, err))
		}
	}
	return n, nil
}

// providerPassword returns the keystore password from the config or its file.
func providerPassword(k config.Keys) (string, error) {
	if k.ProviderPassword != "" {
		return k.ProviderPassword, nil
	}
	b, err := os.ReadFile(k.ProviderPasswordFile)
	if err != nil {
		return "", fmt.Errorf("keys.provider_password_file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// Keys returns the node's keyring.
func (n *Node) Keys() *keys.Keyring { return n.keys }

// Run serves until ctx ends, then stops accepting connections, lets requests
// in flight finish within server.shutdown_timeout, and releases everything.
func (n *Node) Run(ctx context.Context) error {
	// Know the chain's state before the first request (bounded by
	// chain.request_timeout), so GET / and /readyz never say "not checked".
	n.prober.Check(ctx)
	probeCtx, stopProbe := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { n.prober.Run(probeCtx) })
	defer func() {
		stopProbe()
		wg.Wait()
		n.closeResources()
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- n.srv.Serve(n.ln) }()
	n.log.InfoContext(ctx, "node listening", "addr", n.ln.Addr().String(), "provider", n.keys.Address().Hex())

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	n.draining.Store(true)
	n.log.Info("shutting down", "deadline", n.cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := n.srv.Shutdown(sctx); err != nil {
		_ = n.srv.Close()
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	n.log.Info("stopped")
	return nil
}

// closeResources releases what New opened, in reverse order.
func (n *Node) closeResources() {
	if n.plugins != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.plugins.Close(ctx); err != nil {
			n.log.Error("closing plugins", "error", err)
		}
		cancel()
	}
	if n.authz != nil {
		n.authz.Close()
	}
	if n.metadata != nil {
		if err := n.metadata.Close(); err != nil {
			n.log.Error("closing the metadata store", "error", err)
		}
	}
	n.prober.Close()
}

// deriveKey derives a purpose-bound key from a secret (HMAC-SHA256), so one
// configured secret can key several token kinds that must not be confused.
func deriveKey(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// wasmCacheDir keeps compiled WASM modules across restarts (compiling one
// takes seconds): under the data dir when there is one, else the user's
// cache dir; "" (memory only) when neither exists.
func wasmCacheDir(cfg *config.Config) string {
	if cfg.DataDir != "" {
		return filepath.Join(cfg.DataDir, "wasm-cache")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nvm-node", "wasm")
	}
	return ""
}

// fileRoutes routes file URLs: http(s) to the SSRF-guarded client, cid:// to
// the IPFS gateway when one is configured, and each storage plugin's `urls`
// prefixes (default "<name>://") to the plugin. file:// prefixes are taken
// from storage.local only, so no other plugin can be pointed at local files.
func fileRoutes(cfg *config.Config, plugins *pluginhost.Host) (fetch.Mux, error) {
	files := fetch.Mux{}
	httpFiles := fetch.NewHTTP(fetch.HTTPOptions{AllowPrivate: cfg.Storage.AllowPrivateURLs})
	files["http"], files["https"] = httpFiles, httpFiles
	if cfg.Storage.IPFSGateway != "" {
		ipfs, err := fetch.NewIPFS(fetch.IPFSOptions{
			Gateway: cfg.Storage.IPFSGateway, API: cfg.Storage.IPFSAPI,
			Username: cfg.Storage.IPFSProjectID, Password: cfg.Storage.IPFSProjectSecret,
		})
		if err != nil {
			return nil, fmt.Errorf("storage.ipfs_gateway: %w", err)
		}
		files["cid"] = ipfs
	}
	owner := map[string]string{}
	for _, e := range cfg.Plugins {
		b, ok := plugins.Storage(e.ID)
		if !ok {
			continue
		}
		for _, p := range e.URLPrefixes() {
			if strings.HasPrefix(p, "file:") && e.ID != "storage."+localstorage.Name {
				return nil, fmt.Errorf("plugins: %s: only storage.%s may serve file:// URLs", e.ID, localstorage.Name)
			}
			if other, dup := owner[p]; dup {
				return nil, fmt.Errorf("plugins: %s and %s both serve %s", other, e.ID, p)
			}
			owner[p] = e.ID
			files[p] = fetch.Storage{Backend: b, Prefix: p}
		}
	}
	return files, nil
}

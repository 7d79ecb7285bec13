package config

import (
	"time"

	"github.com/nvm-node/nvm-node/core/pluginhost"
)

// Config is the node's whole configuration. Load returns it validated; treat it
// as immutable afterwards.
type Config struct {
	Server  Server  `koanf:"server"`
	Chain   Chain   `koanf:"chain"`
	Keys    Keys    `koanf:"keys"`
	Auth    Auth    `koanf:"auth"`
	Asset   Asset   `koanf:"asset"`
	Storage Storage `koanf:"storage"`
	Upload  Upload  `koanf:"upload"`
	Log     Log     `koanf:"log"`
	DataDir string  `koanf:"data_dir"`
	// Plugins come from plugins.yaml only, parsed and validated by
	// pluginhost, which owns that schema.
	Plugins []pluginhost.Entry `koanf:"-"`
	// Limits bound what one client, and all clients together, can cost the
	// node (rate limits, admission, replay store, upload budgets).
	Limits Limits `koanf:"limits"`
}

// Server configures the HTTP listener.
type Server struct {
	// Host is the address to bind; empty binds every interface.
	Host string `koanf:"host"`
	Port int    `koanf:"port"`
	// PublicURL is how consumers reach this node (reference: NODE_URI).
	PublicURL string `koanf:"public_url"`
	// TrustProxy honours X-Forwarded-Proto/Host when building URLs, as the
	// reference node does (Express "trust proxy"). Enable it only behind a proxy
	// that sets those headers.
	TrustProxy        bool          `koanf:"trust_proxy"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds ordinary responses; streaming handlers extend their
	// own deadline as they make progress.
	WriteTimeout    time.Duration `koanf:"write_timeout"`
	IdleTimeout     time.Duration `koanf:"idle_timeout"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// MaxBodyBytes caps JSON and form request bodies.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
}

// Chain configures the Ethereum connection.
type Chain struct {
	// RPCURL is the JSON-RPC endpoint (reference: WEB3_PROVIDER_URL). It may
	// embed an API key, so it is printed with its path and query masked.
	RPCURL string `koanf:"rpc_url" secret:"url"`
	// ChainID, when set, is the chain id the node expects; a chain answering
	// another id is reported as not ready.
	ChainID         uint64        `koanf:"chain_id"`
	ArtifactsFolder string        `koanf:"artifacts_folder"`
	CircuitsFolder  string        `koanf:"circuits_folder"`
	Provenance      bool          `koanf:"provenance"`
	RequestTimeout  time.Duration `koanf:"request_timeout"`
	// ProbeInterval is how often the node re-checks that the chain answers.
	ProbeInterval time.Duration `koanf:"probe_interval"`
}

// Keys locates the node's long-lived keys.
type Keys struct {
	// ProviderKeyfile is an Ethereum keystore v3: its JSON text, or a path.
	ProviderKeyfile  string `koanf:"provider_keyfile" secret:"inline-json"`
	ProviderPassword string `koanf:"provider_password" secret:"true"`
	// ProviderPasswordFile is a file holding the password (trailing newline
	// ignored); used when ProviderPassword is empty.
	ProviderPasswordFile string `koanf:"provider_password_file"`
	RSAPublicKeyFile     string `koanf:"rsa_public_key_file"`
	RSAPrivateKeyFile    string `koanf:"rsa_private_key_file"`
	BabyjubPublicX       string `koanf:"babyjub_public_x"`
	BabyjubPublicY       string `koanf:"babyjub_public_y"`
}

// Auth configures the access tokens the node issues.
type Auth struct {
	JWTSecret string        `koanf:"jwt_secret" secret:"true"`
	JWTExpiry time.Duration `koanf:"jwt_expiry"`
}

// Asset configures DDO resolution.
type Asset struct {
	MarketplaceURI string `koanf:"marketplace_uri"`
	// StorePath, when set, is the file of the node-hosted DDO store, served
	// under the marketplace API's routes (`node dev` sets it).
	StorePath string `koanf:"store_path"`
}

// Storage configures how the node reads the files it serves.
type Storage struct {
	// AllowPrivateURLs lets file URLs point at loopback, private and
	// link-local addresses. Off by default: a publisher's URL must not be a
	// way into the node's own network. `node dev` turns it on.
	AllowPrivateURLs bool `koanf:"allow_private_urls"`
	// IPFSGateway is the base URL of the IPFS HTTP gateway cid:// files are
	// read through (GET {gateway}/ipfs/<cid>); empty: cid:// URLs answer 501.
	// It may embed credentials, so it is printed masked.
	IPFSGateway string `koanf:"ipfs_gateway" secret:"url"`
	// IPFSAPI reads with the reference's Kubo RPC call
	// `POST {gateway}/api/v0/cat?arg=<cid>` instead (no byte ranges).
	IPFSAPI bool `koanf:"ipfs_api"`
	// IPFSProjectID and IPFSProjectSecret, when both set, are sent to the
	// gateway as HTTP basic auth (reference: IPFS_PROJECT_ID/SECRET).
	IPFSProjectID     string `koanf:"ipfs_project_id"`
	IPFSProjectSecret string `koanf:"ipfs_project_secret" secret:"true"`
}

// Upload configures POST /api/v1/node/services/upload/{backend}, which
// stores files in the storage plugins of plugins.yaml.
type Upload struct {
	// MaxBytes caps an upload's request body. Uploads are streamed to the
	// backend, so this bounds what a client may store, not memory.
	MaxBytes int64 `koanf:"max_bytes"`
	// Access is "public" (the reference's behaviour, which SDK clients
	// expect) or "login": a bearer token issued by this node is required.
	Access string `koanf:"access"`
	// Uploaders, with access "login", are the only addresses that may
	// upload; empty means any logged-in address.
	Uploaders []string `koanf:"uploaders"`
	// IdleTimeout cuts an upload that makes no progress for that long.
	// Uploads are exempt from server.read_timeout and write_timeout, which
	// would cut any upload longer than them.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// Aliases are upload route names answered by another storage plugin:
	// {s3: local} makes /upload/s3 store into storage.local. The official
	// SDK can only name s3, ipfs and filecoin; `node dev` maps all three to
	// its local storage so that SDK uploads work with nothing set up.
	Aliases map[string]string `koanf:"aliases"`
}

// Upload access values.
const (
	UploadPublic = "public"
	UploadLogin  = "login"
)

// Log configures the node's structured log.
type Log struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
	// Access chooses which requests get an access log line: "errors" (the
	// default: every 4xx and 5xx, and every request slower than
	// access_slow), "all" (one line per request; `node dev`'s default) or
	// "off". Metrics count every request whatever this says: one line per
	// request wrote 788 MB in five minutes under load.
	Access string `koanf:"access"`
	// AccessSlow is the duration past which a request is logged under
	// "errors" even when it succeeded.
	AccessSlow time.Duration `koanf:"access_slow"`
}

// Access log values.
const (
	AccessLogErrors = "errors"
	AccessLogAll    = "all"
	AccessLogOff    = "off"
)

// Default returns the documented defaults for `node serve`.
func Default() Config {
	return Config{
		Server: Server{
			Port:              8030,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			MaxBodyBytes:      1 << 20,
		},
		Chain: Chain{
			ArtifactsFolder: "./artifacts",
			CircuitsFolder:  "./circuits",
			Provenance:      true,
			RequestTimeout:  5 * time.Second,
			ProbeInterval:   5 * time.Second,
		},
		Auth:   Auth{JWTExpiry: time.Hour},
		Upload: Upload{MaxBytes: 10 << 30, Access: UploadPublic, IdleTimeout: time.Minute},
		Log:    Log{Level: "info", Format: "json", Access: AccessLogErrors, AccessSlow: time.Second},
		Limits: DefaultLimits(),
	}
}

// DevDefault returns the defaults of `node dev`: loopback only, state and
// generated keys under dataDir.
func DevDefault(dataDir string) Config {
	c := Default()
	c.Server.Host = "127.0.0.1"
	c.DataDir = dataDir
	c.Log.Format = "text"
	c.Log.Access = AccessLogAll
	return c
}

// Limits bound what clients can cost the node. Every request is charged to
// a client address (the connection's peer; X-Forwarded-For only from
// TrustedProxies) and to the cost class of its route; refusals are 429 with
// Retry-After. A zero in a class field means unlimited.
type Limits struct {
	// TrustedProxies are the CIDR prefixes (or addresses) of reverse proxies
	// whose X-Forwarded-For is believed. Empty: the header is ignored.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// IPv6Prefix is the IPv6 prefix length taken as one client (default 64:
	// one host usually holds a whole /64).
	IPv6Prefix int `koanf:"ipv6_prefix"`
	// MaxClients bounds the idle clients whose budgets are remembered.
	MaxClients int          `koanf:"max_clients"`
	Classes    LimitClasses `koanf:"classes"`
	Replay     ReplayLimits `koanf:"replay"`
	Upload     UploadLimits `koanf:"upload"`
}

// LimitClasses are the route cost classes.
type LimitClasses struct {
	// Auth: POST .../oauth/token and POST /api/v1/auth/login.
	Auth ClassLimit `koanf:"auth"`
	// Search: DDO queries and listings.
	Search ClassLimit `koanf:"search"`
	// Upload: POST .../upload/{backend}.
	Upload ClassLimit `koanf:"upload"`
	// Encrypt: POST .../encrypt.
	Encrypt ClassLimit `koanf:"encrypt"`
	// Download: access, nft-access and download.
	Download ClassLimit `koanf:"download"`
	// Write: DDO writes and nft-transfer.
	Write ClassLimit `koanf:"write"`
	// Read: everything else (GET /, a DDO by id, docs, health, metrics).
	Read ClassLimit `koanf:"read"`
}

// ClassLimit bounds one class.
type ClassLimit struct {
	// Rate is requests per second one client may start, sustained.
	Rate float64 `koanf:"rate"`
	// Burst is how many a client may start at once.
	Burst int `koanf:"burst"`
	// PerClient bounds one client's requests in flight.
	PerClient int `koanf:"per_client"`
	// Total bounds every client's requests in flight together.
	Total int `koanf:"total"`
}

// ReplayLimits bound the store of used client assertions.
type ReplayLimits struct {
	// MaxEntries bounds the assertions remembered.
	MaxEntries int `koanf:"max_entries"`
	// PerClient bounds the assertions one client address may have
	// remembered at once; beyond it that client alone gets 429.
	PerClient int `koanf:"per_client"`
	// MaxAssertionAge is how long after its iat an assertion is accepted,
	// whatever its exp says (the SDK sets exp = iat + 1h but uses each
	// assertion at once). It bounds how long an entry is remembered.
	MaxAssertionAge time.Duration `koanf:"max_assertion_age"`
}

// UploadLimits bound uploads beyond the upload class's admission.
type UploadLimits struct {
	// MinRate is the slowest an upload body may arrive, in bytes per second,
	// averaged over each Grace-long window after the first; 0 disables.
	MinRate int64 `koanf:"min_rate"`
	// Grace is the length of the windows MinRate is measured over.
	Grace time.Duration `koanf:"grace"`
	// BufferBytes is the memory all uploads together may hold while waiting
	// for the encrypt field (small files are held, not stored, until then);
	// beyond it a file is streamed to the backend encrypted instead.
	BufferBytes int64 `koanf:"buffer_bytes"`
}

// DefaultLimits are generous for one honest client (the SDK's flows, a
// browser) and bound what a flood from one address or many can hold.
func DefaultLimits() Limits {
	return Limits{
		IPv6Prefix: 64,
		MaxClients: 10_000,
		Classes: LimitClasses{
			Auth:     ClassLimit{Rate: 20, Burst: 50, PerClient: 16, Total: 256},
			Search:   ClassLimit{Rate: 10, Burst: 20, PerClient: 4, Total: 32},
			Upload:   ClassLimit{Rate: 5, Burst: 20, PerClient: 4, Total: 64},
			Encrypt:  ClassLimit{Rate: 20, Burst: 50, PerClient: 16, Total: 128},
			Download: ClassLimit{Rate: 50, Burst: 100, PerClient: 32, Total: 512},
			Write:    ClassLimit{Rate: 10, Burst: 30, PerClient: 8, Total: 64},
			Read:     ClassLimit{Rate: 200, Burst: 400, PerClient: 64, Total: 1024},
		},
		Replay: ReplayLimits{MaxEntries: 100_000, PerClient: 5_000, MaxAssertionAge: 5 * time.Minute},
		Upload: UploadLimits{MinRate: 1024, Grace: 10 * time.Second, BufferBytes: 64 << 20},
	}
}

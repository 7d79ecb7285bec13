package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nvm-node/nvm-node/core/admission"
	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/fetch"
)

// Keyring is what the API needs of the node's keys.
type Keyring interface {
	Address() common.Address
	ECDSAPublicKeyHex() string
	RSAPublicKeyPEM() string
	EncryptPSKRSA(msg []byte) (string, error)
	EncryptPSKECDSA(msg []byte) (string, error)
	DecryptPSKRSA(hash string) ([]byte, error)
	DecryptPSKECDSA(hash string) ([]byte, error)
}

// Charger takes the NFT credits one use of a credit asset costs.
type Charger interface {
	ChargeCredits(ctx context.Context, grantee common.Address, did asset.DID, ddo *asset.DDO) (common.Hash, error)
}

// ChainStatus reports what the node knows of its chain.
type ChainStatus interface {
	Status() *chain.Status
}

// Config is everything the router needs. Zero values are not defaults: the
// node fills every field from its validated configuration.
type Config struct {
	Version      string
	Keys         Keyring
	Chain        ChainStatus
	Logger       *slog.Logger
	Metrics      *prometheus.Registry
	MaxBodyBytes int64
	// AccessLog chooses the requests that get an access log line.
	AccessLog AccessLog
	// PublicURL, when set, is the base of links the node hands out (docs).
	PublicURL       string
	TrustProxy      bool
	RPCURL          string
	ArtifactsFolder string
	CircuitsFolder  string
	Provenance      bool
	BabyjubX        string
	BabyjubY        string
	// Draining reports that the node is shutting down, so /readyz turns
	// away new traffic while in-flight requests finish.
	Draining func() bool
	// Verifier checks client assertions; Tokens issues access tokens.
	Verifier *auth.Verifier
	Tokens   *auth.Tokens
	// Authorizer decides data audiences on-chain; nil refuses them.
	Authorizer Authorizer
	// NFTSeller serves nft-transfer; nil answers 501 (no chain).
	NFTSeller NFTSeller
	// Charger takes NFT credits per use of a credit asset; nil charges
	// nothing (no chain).
	Charger Charger
	// Metadata, when set, is the node-hosted DDO store, served under the
	// marketplace API's routes; MetadataGuard decides who may write.
	Metadata      *store.Store
	MetadataGuard store.Guard
	// Resolver finds DDOs; Files opens the file URLs they list.
	Resolver asset.Resolver
	Files    fetch.Opener
	// Upload configures the upload route; without targets every backend
	// is "not supported".
	Upload UploadConfig
	// Limiter admits requests per client address and route cost class; nil
	// admits everything. Clients finds a request's client address (nil: the
	// connection's peer). UploadLimits bound uploads further.
	Limiter      *admission.Limiter
	Clients      *admission.ClientResolver
	UploadLimits UploadLimits
}

type server struct {
	// charges remembers which downloads were charged (data_charge.go).
	charges chargeLedger

	cfg  Config
	log  *slog.Logger
	info infoCache
	docs *docs
	up   *uploadMetrics
	adm  *admissionMetrics
	// buffers is the node-wide budget of upload bytes held in memory.
	buffers *byteBudget
}

// New returns the node's HTTP handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Keys == nil || cfg.Chain == nil || cfg.Logger == nil || cfg.Metrics == nil || cfg.MaxBodyBytes <= 0 ||
		cfg.Verifier == nil || cfg.Tokens == nil || cfg.Resolver == nil || cfg.Files == nil {
		return nil, errors.New("api: Keys, Chain, Logger, Metrics, MaxBodyBytes, Verifier, Tokens, Resolver and Files are required")
	}
	if cfg.Draining == nil {
		cfg.Draining = func() bool { return false }
	}
	if err := cfg.Upload.validate(); err != nil {
		return nil, err
	}
	d, err := loadDocs(cfg.Version)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if err := cfg.UploadLimits.validate(); err != nil {
		return nil, err
	}
	if cfg.Clients == nil {
		// The connection's peer, X-Forwarded-For ignored.
		if cfg.Clients, err = admission.NewClientResolver(nil, 0); err != nil {
			return nil, err
		}
	}
	s := &server{cfg: cfg, log: cfg.Logger, docs: d, up: newUploadMetrics(cfg.Metrics), adm: newAdmissionMetrics(cfg.Metrics),
		buffers: newByteBudget(cfg.UploadLimits.BufferBytes)}
	m := newHTTPMetrics(cfg.Metrics)

	r := chi.NewRouter()
	r.Use(requestID, observe(s.log, m, cfg.AccessLog), recoverer(s.log), cors, s.clientAddress, exceptUploads(limitBody(cfg.MaxBodyBytes)))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(r.Context(), s.log, w, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("Cannot %s %s", r.Method, r.URL.Path)})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(r.Context(), s.log, w, &Error{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("Cannot %s %s", r.Method, r.URL.Path)})
	})

	// Every route is admitted by its cost class (core/admission).
	read, dl := r.With(s.limit(admission.ClassRead)), r.With(s.limit(admission.ClassDownload))
	read.Get("/", s.getInfo)
	r.With(s.limit(admission.ClassEncrypt)).Post("/api/v1/node/services/encrypt", s.postEncrypt)
	r.With(s.limit(admission.ClassAuth)).Post("/api/v1/node/services/oauth/token", s.postToken)
	// HEAD tells a download's size and validators without serving or charging.
	dl.Head("/api/v1/node/services/access/{agreement_id}/{index}", s.getAccess)
	dl.Head("/api/v1/node/services/nft-access/{agreement_id}/{index}", s.getNFTAccess)
	dl.Head("/api/v1/node/services/download/{index}", s.getDownload)
	dl.Get("/api/v1/node/services/access/{agreement_id}/{index}", s.getAccess)
	dl.Get("/api/v1/node/services/nft-access/{agreement_id}/{index}", s.getNFTAccess)
	dl.Get("/api/v1/node/services/download/{index}", s.getDownload)
	r.With(s.limit(admission.ClassWrite)).Post("/api/v1/node/services/nft-transfer", s.postNFTTransfer)
	r.With(s.limit(admission.ClassUpload)).Post(uploadPath+"{backend}", s.limitUpload(s.postUpload))
	if cfg.Metadata != nil {
		r.Group(func(r chi.Router) {
			r.Use(s.limitBy(metadataClass))
			cfg.Metadata.Routes(r, store.HandlerOptions{Guard: cfg.MetadataGuard, Logger: s.log.With("component", "metadata")})
		})
	}

	read.Get("/api/v1/docs", s.docs.serveHTML)
	read.Get("/api/v1/docs-json", s.docs.serveJSON)
	read.Get("/healthz", s.getHealthz)
	read.Get("/readyz", s.getReadyz)
	read.Get("/metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{Registry: cfg.Metrics}).ServeHTTP)
	return r, nil
}

// fail answers err through the single error mapping.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(r.Context(), s.log, w, err)
}

package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nvm-node/nvm-node/core/chain"
)

// infoBody is GET / in the reference node's key order (SPEC 2.1), plus
// chain-available and chain-status, which say why chain fields are empty
// instead of failing the whole request as the reference does.
type infoBody struct {
	APIVersion        string              `json:"APIversion"`
	Docs              string              `json:"docs"`
	Network           string              `json:"network"`
	KeeperURL         string              `json:"keeper-url"`
	ChainID           *uint64             `json:"chain-id"`
	ChainAvailable    bool                `json:"chain-available"`
	ChainStatus       string              `json:"chain-status,omitempty"`
	ProvenanceEnabled bool                `json:"provenance-enabled"`
	ArtifactsFolder   string              `json:"artifacts-folder"`
	CircuitsFolder    string              `json:"circuits-folder"`
	Contracts         []map[string]string `json:"contracts"`
	ExternalContracts []string            `json:"external-contracts"`
	KeeperVersion     string              `json:"keeper-version"`
	ProviderAddress   string              `json:"provider-address"`
	ECDSAPublicKey    string              `json:"ecdsa-public-key"`
	RSAPublicKey      string              `json:"rsa-public-key"`
	BabyjubPublicKey  babyjub             `json:"babyjub-public-key"`
}

type babyjub struct {
	X string `json:"x"`
	Y string `json:"y"`
}

// infoSnapshot is the encoded body for one chain status, split around the
// docs URL, the only per-request part.
type infoSnapshot struct {
	status       *chain.Status
	before, rest []byte
}

// infoCache re-encodes the body only when the chain status changes, so that
// GET / costs a few small writes.
type infoCache struct{ cur atomic.Pointer[infoSnapshot] }

const docsMarker = "\x00docs\x00"

func (s *server) infoSnapshot() (*infoSnapshot, error) {
	st := s.cfg.Chain.Status()
	if snap := s.info.cur.Load(); snap != nil && snap.status == st {
		return snap, nil
	}
	body := infoBody{
		APIVersion:        s.cfg.Version,
		Docs:              docsMarker,
		Network:           st.Network,
		KeeperURL:         chain.KeeperURL(s.cfg.RPCURL),
		ChainAvailable:    st.Available,
		ProvenanceEnabled: s.cfg.Provenance,
		ArtifactsFolder:   s.cfg.ArtifactsFolder,
		CircuitsFolder:    s.cfg.CircuitsFolder,
		Contracts:         make([]map[string]string, 0, len(st.Contracts)),
		ExternalContracts: []string{},
		KeeperVersion:     st.KeeperVersion,
		ProviderAddress:   s.cfg.Keys.Address().Hex(),
		ECDSAPublicKey:    s.cfg.Keys.ECDSAPublicKeyHex(),
		RSAPublicKey:      s.cfg.Keys.RSAPublicKeyPEM(),
		BabyjubPublicKey:  babyjub{X: s.cfg.BabyjubX, Y: s.cfg.BabyjubY},
	}
	if st.ChainID != 0 {
		id := st.ChainID
		body.ChainID = &id
	}
	if !st.Available {
		body.ChainStatus = st.Reason
	}
	for _, c := range st.Contracts {
		body.Contracts = append(body.Contracts, map[string]string{c.Key: c.Address.Hex()})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	marker, _ := json.Marshal(docsMarker)
	before, rest, _ := bytes.Cut(b, marker)
	snap := &infoSnapshot{status: st, before: before, rest: rest}
	s.info.cur.Store(snap)
	return snap, nil
}

// getInfo answers GET / (SPEC 2.1). It answers 200 even without a chain: a
// client needs the node's keys to publish, whatever the chain is doing.
func (s *server) getInfo(w http.ResponseWriter, r *http.Request) {
	snap, err := s.infoSnapshot()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	docs, _ := json.Marshal(s.docsURL(r))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(snap.before)+len(docs)+len(snap.rest)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(snap.before)
	_, _ = w.Write(docs)
	_, _ = w.Write(snap.rest)
}

// docsURL is where a person reads the API documentation: under the public URL
// when one is configured, else built from the request as the reference does
// (scheme, host name, and the port the request arrived on).
func (s *server) docsURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/") + "/api/v1/docs"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if s.cfg.TrustProxy {
		if p := firstForwarded(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" && plainHost(h) {
			host = h
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	port := ""
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(addr.String()); err == nil {
			port = ":" + p
		}
	}
	return scheme + "://" + host + port + "/api/v1/docs"
}

func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// plainHost accepts host[:port] made of the characters a host name or IP
// literal can hold, so a forged header cannot inject a path or credentials.
func plainHost(h string) bool {
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return len(h) <= 255
}

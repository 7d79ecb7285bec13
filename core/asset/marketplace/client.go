package marketplace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/fetch"
)

// Options configure a [Client]. Zero values are sensible defaults.
type Options struct {
	// Timeout bounds each request, connection to last byte. Zero means 10 s.
	Timeout time.Duration
	// Transport carries requests to the marketplace; nil means a dedicated
	// transport. Tests pass httptest's.
	Transport http.RoundTripper
	// AllowPrivate lets FetchDDO reach loopback, private and link-local
	// addresses. Metadata URLs come from whoever registered a DID, so by
	// default they may not point inside the node's network. The configured
	// marketplace itself may always be private.
	AllowPrivate bool
	// UserAgent is sent with every request; empty means "nvm-node".
	UserAgent string
}

// Client talks to one marketplace API. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	shown     string // base with any password redacted, for errors
	api       *http.Client
	fetch     *http.Client
	timeout   time.Duration
	userAgent string
}

// New returns a client for the marketplace at baseURL (MARKETPLACE_URI).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("marketplace: %q is not an http(s) base URL", redact(baseURL))
	}
	return build(u, opts), nil
}

func build(u *url.URL, opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "nvm-node"
	}
	apiTransport := opts.Transport
	fetchTransport := opts.Transport
	if apiTransport == nil {
		apiTransport = newTransport(true)
		fetchTransport = newTransport(opts.AllowPrivate)
	}
	return &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		shown:     strings.TrimSuffix(u.Redacted(), "/"),
		api:       &http.Client{Transport: apiTransport, Timeout: opts.Timeout, CheckRedirect: limitRedirects},
		fetch:     &http.Client{Transport: fetchTransport, Timeout: opts.Timeout, CheckRedirect: limitRedirects},
		timeout:   opts.Timeout,
		userAgent: opts.UserAgent,
	}
}

func limitRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("more than 3 redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %s URL", req.URL.Scheme)
	}
	return nil
}

func newTransport(allowPrivate bool) *http.Transport {
	// One guard for every URL the node fetches (core/fetch): checked on the
	// address actually dialled, so neither DNS nor a redirect leads inside.
	return fetch.NewTransport(allowPrivate, 10*time.Second)
}

// NewFetcher returns a client that only fetches DDOs at URLs read from the
// DID registry (FetchDDO), for nodes configured without a marketplace.
func NewFetcher(opts Options) *Client {
	c := build(&url.URL{Scheme: "http", Host: "fetch-only.invalid"}, opts)
	c.api = &http.Client{Transport: errTransport{}}
	return c
}

// errTransport refuses every request: a fetch-only client has no marketplace.
type errTransport struct{}

func (errTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%w: no marketplace configured", asset.ErrUnavailable)
}

// Resolve implements asset.Resolver: GET {base}/api/v1/metadata/assets/ddo/{did}.
// A 404 is asset.ErrNotFound; any other failure to get a 200 is
// asset.ErrUnavailable; a 200 whose body is not the DDO of did is
// asset.ErrInvalidDDO.
func (c *Client) Resolve(ctx context.Context, did asset.DID) (*asset.DDO, error) {
	return c.getDDO(ctx, c.api, c.base+DDOPath+"/"+did.String(), did)
}

// FetchDDO implements asset.DDOFetcher for metadata URLs read from the DID
// registry. Unless Options.AllowPrivate is set it refuses addresses inside
// the node's network.
func (c *Client) FetchDDO(ctx context.Context, rawURL string, did asset.DID) (*asset.DDO, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: metadata URL %q of %s is not http(s)", asset.ErrUnavailable, redact(rawURL), did)
	}
	return c.getDDO(ctx, c.fetch, u.String(), did)
}

func (c *Client) getDDO(ctx context.Context, hc *http.Client, target string, did asset.DID) (*asset.DDO, error) {
	body, err := c.do(ctx, hc, http.MethodGet, target, nil, asset.MaxDDOSize)
	if err != nil {
		return nil, err
	}
	d, err := asset.DecodeDDO(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redact(target), err)
	}
	if d.ID != did {
		return nil, fmt.Errorf("%w: %s answered the DDO of %s when asked for %s", asset.ErrInvalidDDO, redact(target), d.ID, did)
	}
	return d, nil
}

// QueryResult is a decoded page of search results. Results that are not
// valid DDOs are left out and counted in Skipped, so that one bad document
// does not hide the others.
type QueryResult struct {
	Results      []*asset.DDO
	Skipped      int
	Page         int
	TotalPages   int
	TotalResults int
}

// Query searches the marketplace (POST .../ddo/query).
func (c *Client) Query(ctx context.Context, q QueryRequest) (*QueryResult, error) {
	payload, err := json.Marshal(q)
	if err != nil {
		return nil, fmt.Errorf("marketplace: encoding query: %w", err)
	}
	body, err := c.do(ctx, c.api, http.MethodPost, c.base+QueryPath, payload, 64*asset.MaxDDOSize)
	if err != nil {
		return nil, err
	}
	var resp QueryResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("%w: %s%s answered a malformed search result: %v", asset.ErrUnavailable, c.shown, QueryPath, err)
	}
	out := &QueryResult{Page: resp.Page, TotalPages: resp.TotalPages, TotalResults: resp.TotalResults.Value}
	for _, raw := range resp.Results {
		d, err := asset.DecodeDDO(raw)
		if err != nil {
			out.Skipped++
			continue
		}
		out.Results = append(out.Results, d)
	}
	return out, nil
}

// ProfileByAddress reads the user profile of an address. An unknown address
// is asset.ErrNotFound.
func (c *Client) ProfileByAddress(ctx context.Context, addr common.Address) (*Profile, error) {
	body, err := c.do(ctx, c.api, http.MethodGet, c.base+ProfileByAddressPath+addr.Hex(), nil, 64<<10)
	if err != nil {
		return nil, err
	}
	var p Profile
	if err := json.Unmarshal(body, &p); err != nil || p.UserID == "" {
		return nil, fmt.Errorf("%w: %s answered a malformed profile", asset.ErrUnavailable, c.shown)
	}
	return &p, nil
}

// do sends one request and returns the body of a 2xx answer, read up to
// limit bytes. The answer's status decides the error: 404 wraps
// asset.ErrNotFound, everything else asset.ErrUnavailable.
func (c *Client) do(ctx context.Context, hc *http.Client, method, target string, payload []byte, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", asset.ErrUnavailable, method, redact(target), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", asset.ErrUnavailable, method, redact(target), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("%w: %s %s: 404", asset.ErrNotFound, method, redact(target))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("%w: %s %s: status %d", asset.ErrUnavailable, method, redact(target), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading the answer: %w", asset.ErrUnavailable, method, redact(target), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: %s %s: answer larger than %d bytes", asset.ErrInvalidDDO, method, redact(target), limit)
	}
	return body, nil
}

// unwrapURLError drops *url.Error's copy of the URL (which may hold
// credentials) and keeps its cause, so errors.Is still sees timeouts and
// cancellations.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact hides a password in a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

package fetch

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// IPFSOptions configure the IPFS Opener.
type IPFSOptions struct {
	// Gateway is the base URL of an IPFS HTTP gateway (or of a Kubo RPC
	// API when API is set), e.g. "http://127.0.0.1:8080". The operator
	// chooses it, so it may be on the node's own network.
	Gateway string
	// API reads with the reference's `POST {Gateway}/api/v0/cat?arg=<cid>`
	// instead of `GET {Gateway}/ipfs/<cid>`. The RPC API takes no Range
	// header: ranges are served by skipping bytes when it gives a length,
	// and not at all (the whole file) otherwise.
	API bool
	// Username and Password, when both set, are sent as HTTP basic auth
	// (the reference's IPFS_PROJECT_ID and IPFS_PROJECT_SECRET).
	Username, Password string
	// HeaderTimeout bounds the wait for the response headers. Zero: 30 s.
	HeaderTimeout time.Duration
}

// IPFS opens cid://<cid>[/<path>] URLs through an IPFS HTTP gateway.
type IPFS struct {
	base   *url.URL
	opts   IPFSOptions
	client *http.Client
}

// NewIPFS returns an IPFS Opener.
func NewIPFS(opts IPFSOptions) (*IPFS, error) {
	u, err := url.Parse(opts.Gateway)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("fetch: the IPFS gateway must be an http(s) URL without a query")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &IPFS{base: u, opts: opts, client: newClient(HTTPOptions{AllowPrivate: true, HeaderTimeout: opts.HeaderTimeout})}, nil
}

// Open implements Opener.
func (p *IPFS) Open(ctx context.Context, req Request) (*Object, error) {
	norm, _, err := normalize(req.URL)
	if err != nil {
		return nil, err
	}
	ref, ok := strings.CutPrefix(norm, "cid://")
	if !ok {
		return nil, fmt.Errorf("%w: not a cid:// URL", ErrUnsupported)
	}
	if ref == "" {
		return nil, fmt.Errorf("%w: the URL names no CID", ErrNotFound)
	}
	cid, rest, _ := strings.Cut(ref, "/")
	for _, c := range cid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return nil, fmt.Errorf("%w: %q is not a CID", ErrInvalidKey, cid)
		}
	}
	if rest != "" {
		if _, err := (Storage{Prefix: "cid://" + cid + "/"}).Key(norm); err != nil {
			return nil, err
		}
	}
	u := *p.base
	method := http.MethodGet
	if p.opts.API {
		method = http.MethodPost
		u.Path += "/api/v0/cat"
		u.RawQuery = url.Values{"arg": {ref}}.Encode()
	} else {
		u.Path += "/ipfs/" + ref
	}
	hr, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	if p.opts.Username != "" && p.opts.Password != "" {
		hr.SetBasicAuth(p.opts.Username, p.opts.Password)
	}
	// The RPC API ignores the Range header; do() then skips to the range.
	obj, err := do(p.client, hr, "the IPFS gateway", req.Range)
	if err != nil {
		return nil, err
	}
	if obj.Name == "cat" || obj.Name == cid {
		obj.Name = ""
	}
	return obj, nil
}

package admission

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// ClientResolver finds the address a request comes from: the connection's
// peer, or, only when that peer is a configured trusted proxy, the nearest
// address in X-Forwarded-For that is not itself a trusted proxy. A client
// can put anything in X-Forwarded-For, so the header is read right to left
// and only the hops our own proxies appended are believed.
type ClientResolver struct {
	trusted []netip.Prefix
	// v6Bits groups IPv6 clients by prefix: one host usually holds a whole
	// /64, so limiting single addresses would give it 2^64 budgets.
	v6Bits int
}

// maxForwardedHops bounds the X-Forwarded-For entries looked at, so a huge
// header costs a bounded amount of work.
const maxForwardedHops = 16

// NewClientResolver parses the trusted proxies (CIDR prefixes or single
// addresses). ipv6Bits is the IPv6 prefix length one client is taken to
// hold (1-128; 0 means 64).
func NewClientResolver(trustedProxies []string, ipv6Bits int) (*ClientResolver, error) {
	if ipv6Bits == 0 {
		ipv6Bits = 64
	}
	if ipv6Bits < 1 || ipv6Bits > 128 {
		return nil, fmt.Errorf("admission: ipv6 prefix length %d is not in 1..128", ipv6Bits)
	}
	c := &ClientResolver{v6Bits: ipv6Bits}
	for _, s := range trustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("admission: trusted proxy %q: %w", s, err)
		}
		c.trusted = append(c.trusted, p)
	}
	return c, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (c *ClientResolver) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns the client of a request whose connection peer is
// remoteAddr (host:port, as net/http's Request.RemoteAddr) and whose
// X-Forwarded-For header values are forwarded (possibly none). The result
// is a key for limits: an IPv4 address, or an IPv6 prefix. It never fails:
// an unparsable peer (a unix socket, a test's "pipe") is one client named
// by what it said.
func (c *ClientResolver) Resolve(remoteAddr string, forwarded []string) string {
	peer, ok := parseHostPort(remoteAddr)
	if !ok {
		return "peer:" + truncate(remoteAddr)
	}
	client := peer
	if len(c.trusted) > 0 && c.isTrusted(peer) {
		client = c.fromForwarded(peer, forwarded)
	}
	return c.key(client)
}

// fromForwarded walks X-Forwarded-For right to left past trusted proxies.
// A malformed entry stops the walk at the last address known good: what is
// left of it was written by someone we do not trust.
func (c *ClientResolver) fromForwarded(peer netip.Addr, forwarded []string) netip.Addr {
	client := peer
	hops := 0
	for i := len(forwarded) - 1; i >= 0; i-- {
		rest := forwarded[i]
		for rest != "" {
			var hop string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				hop, rest = rest[j+1:], rest[:j]
			} else {
				hop, rest = rest, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			if hops++; hops > maxForwardedHops {
				return client
			}
			a, ok := parseForwardedHop(hop)
			if !ok {
				return client
			}
			client = a
			if !c.isTrusted(a) {
				return client
			}
		}
	}
	return client
}

// parseForwardedHop reads one X-Forwarded-For entry: an address, an
// address with a port, or a bracketed IPv6 address with or without port.
func parseForwardedHop(s string) (netip.Addr, bool) {
	if len(s) > 64 {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return parseHostPort(s)
}

func parseHostPort(s string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().WithZone("")
	return a.Unmap(), true
}

// key names the client for limits.
func (c *ClientResolver) key(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(c.v6Bits)
	if err != nil {
		return a.String()
	}
	return p.String()
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

type clientKey struct{}

// WithClient returns ctx carrying the request's client key, so code that
// keeps per-client state below the HTTP layer (the replay store) can use it.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// ClientFrom returns the client key WithClient stored, or "" when none.
func ClientFrom(ctx context.Context) string {
	s, _ := ctx.Value(clientKey{}).(string)
	return s
}

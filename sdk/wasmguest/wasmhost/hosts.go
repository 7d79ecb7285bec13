package wasmhost

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// HostGrants is the set of network hosts a module may reach, parsed from
// grants.hosts in plugins.yaml. A grant is a host name or IP address,
// which allows ports 80 and 443 ("api.example.org", "10.0.0.5",
// "[2001:db8::1]"), or host:port, which allows exactly that port
// ("127.0.0.1:9000", "[::1]:8080"). Names match case-insensitively and
// without a trailing dot; there are no wildcards. The grant is checked on
// the name the module asks for (before the request, on every redirect and
// again when dialling), not on the addresses it resolves to.
type HostGrants struct {
	ports map[string]map[uint16]bool // host -> allowed ports
	list  []string
}

// ParseHostGrants validates grants and returns them as a set; a bad entry
// is an error naming it.
func ParseHostGrants(grants []string) (HostGrants, error) {
	g := HostGrants{ports: map[string]map[uint16]bool{}}
	for _, s := range grants {
		host, ports, err := parseHostGrant(s)
		if err != nil {
			return HostGrants{}, fmt.Errorf("grants.hosts: %q: %w", s, err)
		}
		if g.ports[host] == nil {
			g.ports[host] = map[uint16]bool{}
		}
		for _, p := range ports {
			g.ports[host][p] = true
		}
		g.list = append(g.list, s)
	}
	return g, nil
}

// Empty reports whether nothing is granted.
func (g HostGrants) Empty() bool { return len(g.ports) == 0 }

// String lists the grants as written.
func (g HostGrants) String() string { return strings.Join(g.list, ", ") }

func parseHostGrant(s string) (string, []uint16, error) {
	switch {
	case s == "":
		return "", nil, errors.New("empty")
	case strings.Contains(s, "://"):
		return "", nil, errors.New("want a host or host:port, not a URL (no scheme)")
	case strings.ContainsAny(s, "/?#@*% \t\r\n"):
		return "", nil, errors.New("want a host or host:port: no path, user, wildcard or spaces")
	}
	host, portStr := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", nil, errors.New("unclosed [ in an IPv6 address")
		}
		host, portStr = s[1:end], s[end+1:]
		if portStr != "" {
			if !strings.HasPrefix(portStr, ":") {
				return "", nil, errors.New("want [ipv6] or [ipv6]:port")
			}
			portStr = portStr[1:]
			if portStr == "" {
				return "", nil, errors.New("empty port")
			}
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", nil, errors.New("not an IPv6 address inside [ ]")
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if strings.Count(s, ":") > 1 {
			return "", nil, errors.New("an IPv6 address goes inside [ ]")
		}
		host, portStr = s[:i], s[i+1:]
		if portStr == "" {
			return "", nil, errors.New("empty port")
		}
	}
	host = canonicalHost(host)
	if !strings.Contains(s, "[") && !validHostName(host) {
		return "", nil, errors.New("not a host name or IP address")
	}
	if portStr == "" {
		return host, []uint16{80, 443}, nil
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || p == 0 {
		return "", nil, errors.New("the port must be a number from 1 to 65535")
	}
	return host, []uint16{uint16(p)}, nil
}

// canonicalHost lowercases a host and drops a trailing dot and IPv6
// brackets, so equal names compare equal.
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// validHostName accepts DNS names (letters, digits, hyphens; labels of 1
// to 63) and IPv4 addresses.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// allows reports whether host (as in a URL or a dial address, brackets
// optional) and port are granted.
func (g HostGrants) allows(host string, port uint16) bool {
	return g.ports[canonicalHost(host)][port]
}

// allowsAddr checks a dial address host:port.
func (g HostGrants) allowsAddr(addr string) bool {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	return err == nil && g.allows(host, uint16(p))
}

package admission

import (
	"net/netip"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	r, err := NewClientResolver([]string{"10.0.0.0/8", "::1", "fd00::/8"}, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.7:4000", nil, "192.0.2.7"},
		// Not from a trusted proxy: the header is ignored.
		{"192.0.2.7:4000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		// Right to left past trusted hops; a forged leftmost entry is not read.
		{"10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"10.1.2.3:80", []string{"6.6.6.6", "198.51.100.1,10.9.9.9"}, "198.51.100.1"},
		// A malformed hop stops the walk at the last good address.
		{"10.1.2.3:80", []string{"198.51.100.1, garbage"}, "10.1.2.3"},
		{"10.1.2.3:80", []string{"garbage, 10.2.2.2"}, "10.2.2.2"},
		// Only trusted hops: the farthest one is the client.
		{"10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"},
		{"10.1.2.3:80", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"10.1.2.3:80", []string{"[2001:db8::1]:443"}, "2001:db8::/64"},
		{"10.1.2.3:80", []string{""}, "10.1.2.3"},
		// IPv6 clients are grouped by /64.
		{"[2001:db8:1:2:3:4:5:6]:9", nil, "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.9]:9", nil, "192.0.2.9"},
		{"[::1]:9", []string{"203.0.113.5"}, "203.0.113.5"},
		{"pipe", nil, "peer:pipe"},
	} {
		if got := r.Resolve(tc.remote, tc.xff); got != tc.want {
			t.Errorf("Resolve(%q, %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
	// No trusted proxies: never read the header.
	plain, _ := NewClientResolver(nil, 0)
	if got := plain.Resolve("10.1.2.3:80", []string{"198.51.100.1"}); got != "10.1.2.3" {
		t.Fatalf("without trusted proxies: %q", got)
	}
	for _, bad := range []string{"nonsense", "10.0.0.0/99"} {
		if _, err := NewClientResolver([]string{bad}, 64); err == nil {
			t.Errorf("trusted proxy %q accepted", bad)
		}
	}
	if _, err := NewClientResolver(nil, 129); err == nil {
		t.Error("ipv6 prefix 129 accepted")
	}
}

// FuzzResolve: any header is handled without panic, in bounded time, and
// the answer is either the peer or an address that appears in the header;
// it is the peer whenever the peer is not a trusted proxy.
func FuzzResolve(f *testing.F) {
	r, err := NewClientResolver([]string{"10.0.0.0/8", "fd00::/8"}, 64)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("10.1.2.3:80", "198.51.100.1, 10.9.9.9")
	f.Add("192.0.2.1:80", "198.51.100.1")
	f.Add("[fd00::1]:80", "[2001:db8::1]:443,  ,fd00::2")
	f.Add("10.1.2.3:80", strings.Repeat("10.0.0.1,", 100))
	f.Add("10.1.2.3:80", "fe80::1%eth0")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := r.Resolve(remote, []string{xff})
		if got == "" {
			t.Fatal("empty client")
		}
		peer, ok := parseHostPort(remote)
		if !ok {
			if !strings.HasPrefix(got, "peer:") {
				t.Fatalf("unparsable peer %q gave %q", remote, got)
			}
			return
		}
		if !r.isTrusted(peer) {
			if got != r.key(peer) {
				t.Fatalf("untrusted peer %q: header decided %q", remote, got)
			}
			return
		}
		if got == r.key(peer) {
			return
		}
		// Whatever came from the header parses as an address or prefix.
		if _, err := netip.ParseAddr(got); err != nil {
			if _, err := netip.ParsePrefix(got); err != nil {
				t.Fatalf("client %q from header %q is not an address", got, xff)
			}
		}
	})
}

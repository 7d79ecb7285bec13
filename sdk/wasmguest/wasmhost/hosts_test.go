package wasmhost

import "testing"

func TestParseHostGrants(t *testing.T) {
	good := []string{"api.example.org", "API.Example.org.", "127.0.0.1:9000", "10.0.0.5", "[::1]", "[::1]:8080", "localhost:1"}
	if _, err := ParseHostGrants(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "http://a.org", "a.org/x", "*.a.org", "a.org:", "a.org:0", "a.org:65536", "a.org:x", "::1", "[::1", "[1.2.3.4]", "a b", "user@a.org", "-a.org", "a..org", "a_b.org", "[::1]x"} {
		if _, err := ParseHostGrants([]string{bad}); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	g, _ := ParseHostGrants(good)
	cases := []struct {
		host string
		port uint16
		ok   bool
	}{
		{"api.example.org", 443, true}, {"api.example.org", 80, true}, {"api.example.org", 8080, false},
		{"API.EXAMPLE.ORG.", 443, true}, {"x.api.example.org", 443, false}, {"example.org", 443, false},
		{"127.0.0.1", 9000, true}, {"127.0.0.1", 80, false}, {"::1", 8080, true}, {"[::1]", 443, true}, {"::1", 9000, false},
		{"localhost", 1, true}, {"localhost", 80, false},
	}
	for _, c := range cases {
		if got := g.allows(c.host, c.port); got != c.ok {
			t.Errorf("allows(%q, %d) = %v, want %v", c.host, c.port, got, c.ok)
		}
	}
	if !g.allowsAddr("127.0.0.1:9000") || g.allowsAddr("127.0.0.1:9001") || g.allowsAddr("junk") {
		t.Error("allowsAddr disagrees with the grants")
	}
}

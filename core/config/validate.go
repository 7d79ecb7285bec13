package config

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// minJWTSecret is the shortest HS256 secret accepted: below 32 bytes a secret
// is brute-forceable offline from any token it signed.
const minJWTSecret = 32

// Validate reports every problem of c. Load calls it; it is exported so that
// tests and tools can check a Config built in code.
func (c *Config) Validate() Problems {
	var p Problems
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }

	if c.Server.Port < 0 || c.Server.Port > 65535 {
		add("server.port: %d is not a TCP port (0-65535)", c.Server.Port)
	}
	for key, d := range map[string]int64{
		"server.read_header_timeout": int64(c.Server.ReadHeaderTimeout),
		"server.read_timeout":        int64(c.Server.ReadTimeout),
		"server.write_timeout":       int64(c.Server.WriteTimeout),
		"server.idle_timeout":        int64(c.Server.IdleTimeout),
		"server.shutdown_timeout":    int64(c.Server.ShutdownTimeout),
		"chain.request_timeout":      int64(c.Chain.RequestTimeout),
		"chain.probe_interval":       int64(c.Chain.ProbeInterval),
		"auth.jwt_expiry":            int64(c.Auth.JWTExpiry),
		"upload.idle_timeout":        int64(c.Upload.IdleTimeout),
	} {
		if d <= 0 {
			add("%s: must be a positive duration such as 30s", key)
		}
	}
	if c.Server.MaxBodyBytes <= 0 {
		add("server.max_body_bytes: must be positive")
	}
	if c.Upload.MaxBytes <= 0 {
		add("upload.max_bytes: must be positive")
	}
	switch c.Upload.Access {
	case UploadPublic:
		if len(c.Upload.Uploaders) > 0 {
			add("upload.uploaders: needs upload.access: %s", UploadLogin)
		}
	case UploadLogin:
	default:
		add("upload.access: %q is not one of %s, %s", c.Upload.Access, UploadPublic, UploadLogin)
	}
	for i, a := range c.Upload.Uploaders {
		if !common.IsHexAddress(a) {
			add("upload.uploaders[%d]: %q is not an address", i, a)
		}
	}
	c.Limits.validate(add)
	checkURL(&p, "server.public_url", c.Server.PublicURL, "http", "https")
	checkURL(&p, "chain.rpc_url", c.Chain.RPCURL, "http", "https", "ws", "wss")
	checkURL(&p, "asset.marketplace_uri", c.Asset.MarketplaceURI, "http", "https")
	checkURL(&p, "storage.ipfs_gateway", c.Storage.IPFSGateway, "http", "https")
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{AccessLogErrors, AccessLogAll, AccessLogOff}, c.Log.Access) {
		add("log.access: %q is not one of %s, %s, %s", c.Log.Access, AccessLogErrors, AccessLogAll, AccessLogOff)
	}
	if c.Log.AccessSlow < 0 {
		add("log.access_slow: must not be negative")
	}
	if !slices.Contains([]string{"json", "text"}, c.Log.Format) {
		add("log.format: %q is not one of json, text", c.Log.Format)
	}
	if c.Keys.ProviderKeyfile == "" {
		add("keys.provider_keyfile: required (keystore v3 JSON text or path; reference variable PROVIDER_KEYFILE)")
	}
	if c.Keys.ProviderPassword == "" && c.Keys.ProviderPasswordFile == "" {
		add("keys.provider_password: required, or keys.provider_password_file (reference variable PROVIDER_PASSWORD)")
	}
	if c.Keys.RSAPrivateKeyFile == "" {
		add("keys.rsa_private_key_file: required (PEM path; reference variable RSA_PRIVKEY_FILE)")
	}
	switch n := len(c.Auth.JWTSecret); {
	case n == 0:
		add("auth.jwt_secret: required (reference variable JWT_SECRET_KEY)")
	case n < minJWTSecret:
		add("auth.jwt_secret: must be at least %d bytes long", minJWTSecret)
	}
	return p
}

func checkURL(p *Problems, key, raw string, schemes ...string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		*p = append(*p, fmt.Sprintf("%s: must be an absolute %s URL", key, strings.Join(schemes, "/")))
	}
}

func (l *Limits) validate(add func(string, ...any)) {
	for i, s := range l.TrustedProxies {
		if _, err := netip.ParsePrefix(s); err != nil {
			if _, err := netip.ParseAddr(s); err != nil {
				add("limits.trusted_proxies[%d]: %q is not an address or CIDR prefix", i, s)
			}
		}
	}
	if l.IPv6Prefix < 1 || l.IPv6Prefix > 128 {
		add("limits.ipv6_prefix: %d is not in 1..128", l.IPv6Prefix)
	}
	if l.MaxClients < 1 {
		add("limits.max_clients: must be positive")
	}
	for name, c := range map[string]ClassLimit{
		"auth": l.Classes.Auth, "search": l.Classes.Search, "upload": l.Classes.Upload, "encrypt": l.Classes.Encrypt,
		"download": l.Classes.Download, "write": l.Classes.Write, "read": l.Classes.Read,
	} {
		if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Burst < 0 || c.PerClient < 0 || c.Total < 0 {
			add("limits.classes.%s: rate, burst, per_client and total must be zero (unlimited) or positive", name)
		}
		if c.Rate > 0 && c.Burst == 0 {
			add("limits.classes.%s.burst: must be at least 1 with a rate", name)
		}
	}
	if l.Replay.MaxEntries < 1 {
		add("limits.replay.max_entries: must be positive")
	}
	if l.Replay.PerClient < 1 || l.Replay.PerClient > l.Replay.MaxEntries {
		add("limits.replay.per_client: must be between 1 and limits.replay.max_entries")
	}
	if l.Replay.MaxAssertionAge <= 0 || l.Replay.MaxAssertionAge > time.Hour {
		add("limits.replay.max_assertion_age: must be a positive duration of at most 1h")
	}
	if l.Upload.MinRate < 0 {
		add("limits.upload.min_rate: must not be negative")
	}
	if l.Upload.MinRate > 0 && l.Upload.Grace <= 0 {
		add("limits.upload.grace: must be a positive duration with limits.upload.min_rate")
	}
	if l.Upload.BufferBytes <= 0 {
		add("limits.upload.buffer_bytes: must be positive")
	}
}

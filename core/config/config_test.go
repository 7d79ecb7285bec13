package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// required is the smallest environment that makes a valid serve config.
func required() []string {
	return []string{
		"PROVIDER_KEYFILE=/keys/provider.json",
		"PROVIDER_PASSWORD=hunter2-password",
		"RSA_PRIVKEY_FILE=/keys/rsa.pem",
		"JWT_SECRET_KEY=0123456789abcdef0123456789abcdef-secret",
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, src Sources) *Config {
	t.Helper()
	cfg, _, err := Load(Default(), src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func loadErr(t *testing.T, src Sources) string {
	t.Helper()
	_, _, err := Load(Default(), src)
	if err == nil {
		t.Fatal("Load succeeded; want an error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	return err.Error()
}

func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, Sources{Env: required()})
	if cfg.Server.Port != 8030 || cfg.Chain.ArtifactsFolder != "./artifacts" || cfg.Auth.JWTExpiry != time.Hour {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	if !cfg.Chain.Provenance {
		t.Fatal("provenance should default to true as in the reference node")
	}
}

func TestReferenceVariables(t *testing.T) {
	env := append(required(),
		"PORT=9000",
		"WEB3_PROVIDER_URL=https://rpc.example.org/v3/apikey",
		"ARTIFACTS_FOLDER=/art",
		"MARKETPLACE_URI=http://market:3100",
		"NODE_URI=http://node.example:8030",
		"JWT_EXPIRY_KEY=90000",
		"NETWORK_ID=8996",
		"ENABLE_PROVENANCE=false",
		"RSA_PUBKEY_FILE=/keys/rsa.pub",
	)
	cfg := mustLoad(t, Sources{Env: env})
	if cfg.Server.Port != 9000 || cfg.Chain.RPCURL != "https://rpc.example.org/v3/apikey" ||
		cfg.Chain.ArtifactsFolder != "/art" || cfg.Asset.MarketplaceURI != "http://market:3100" ||
		cfg.Server.PublicURL != "http://node.example:8030" || cfg.Chain.ChainID != 8996 ||
		cfg.Chain.Provenance || cfg.Keys.RSAPublicKeyFile != "/keys/rsa.pub" ||
		cfg.Keys.ProviderKeyfile != "/keys/provider.json" || cfg.Keys.ProviderPassword != "hunter2-password" {
		t.Fatalf("reference variables not mapped: %+v", cfg)
	}
	if cfg.Auth.JWTExpiry != 90*time.Second {
		t.Fatalf("JWT_EXPIRY_KEY=90000 is milliseconds: got %v", cfg.Auth.JWTExpiry)
	}
}

func TestParseMSDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"60m": time.Hour, "1h": time.Hour, "2 days": 48 * time.Hour, "1500": 1500 * time.Millisecond,
		"30s": 30 * time.Second, "1w": 7 * 24 * time.Hour, "1.5h": 90 * time.Minute,
	} {
		got, err := ParseMSDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseMSDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "10 parsecs", "-5m", "0"} {
		if _, err := ParseMSDuration(in); err == nil {
			t.Errorf("ParseMSDuration(%q) succeeded; want error", in)
		}
	}
}

func TestPrecedence(t *testing.T) {
	node := writeFile(t, "node.yaml", "server:\n  port: 1001\n  host: 10.0.0.1\n  public_url: http://from-node-yaml\nlog:\n  level: debug\n")
	base := Sources{NodeFile: node, Env: required()}

	if got := mustLoad(t, base).Server.Port; got != 1001 {
		t.Fatalf("node.yaml should override defaults: port %d", got)
	}
	base.Env = append(base.Env, "PORT=1003")
	if got := mustLoad(t, base).Server.Port; got != 1003 {
		t.Fatalf("environment should override files: port %d", got)
	}
	base.Env = append(base.Env, "NVM_SERVER__PORT=1004")
	if got := mustLoad(t, base).Server.Port; got != 1004 {
		t.Fatalf("NVM_ variables should override reference variables: port %d", got)
	}
	base.Overrides = []Override{{Key: "server.port", Value: "1005", Origin: "flag --port"}}
	cfg := mustLoad(t, base)
	if cfg.Server.Port != 1005 {
		t.Fatalf("flags should override everything: port %d", cfg.Server.Port)
	}
	// Keys set only in lower layers survive.
	if cfg.Server.Host != "10.0.0.1" || cfg.Log.Level != "debug" || cfg.Server.PublicURL != "http://from-node-yaml" {
		t.Fatalf("lower-layer keys lost: %+v", cfg.Server)
	}
}

func TestUnknownKeysNameKeyAndSource(t *testing.T) {
	node := writeFile(t, "node.yaml", "server:\n  prot: 1\nbogus: true\n")
	msg := loadErr(t, Sources{NodeFile: node, Env: append(required(), "NVM_CHAIN__RPC=http://x", "NVM_DIR=/root/.nvm")})
	for _, want := range []string{
		`unknown key "server.prot" (from node.yaml ` + node + `); did you mean "server.port"?`,
		`unknown key "bogus" (from node.yaml`,
		`unknown key "chain.rpc" (from environment variable NVM_CHAIN__RPC)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "NVM_DIR") {
		t.Errorf("NVM_DIR belongs to the nvm tool and must be ignored:\n%s", msg)
	}
}

func TestUnknownPluginKey(t *testing.T) {
	plugins := writeFile(t, "plugins.yaml", `plugins:
  - id: storage.s3
    runtime: process
    path: ./bin/storage-s3
    sha256: `+strings.Repeat("ab", 32)+`
    config: {bucket: b, anything: {goes: here}}
    limts: {memory: 1}
`)
	msg := loadErr(t, Sources{PluginsFile: plugins, Env: required()})
	if !strings.Contains(msg, "limts") || !strings.Contains(msg, "(from plugins.yaml)") || !strings.Contains(msg, plugins) {
		t.Fatalf("unexpected error:\n%s", msg)
	}
	if strings.Contains(msg, "anything") {
		t.Fatalf("plugin config is free-form:\n%s", msg)
	}
}

func TestPluginsYAMLHoldsOnlyPlugins(t *testing.T) {
	plugins := writeFile(t, "plugins.yaml", "server:\n  port: 1002\n")
	if msg := loadErr(t, Sources{PluginsFile: plugins, Env: required()}); !strings.Contains(msg, "field server not found") {
		t.Fatalf("unexpected error:\n%s", msg)
	}
}

func TestPluginsOnlyInPluginsYAML(t *testing.T) {
	node := writeFile(t, "node.yaml", "plugins:\n  - {id: storage.local, runtime: builtin}\n")
	msg := loadErr(t, Sources{NodeFile: node, Env: required()})
	if !strings.Contains(msg, "plugins are declared in plugins.yaml") {
		t.Fatalf("unexpected error:\n%s", msg)
	}
}

func TestPluginsParsed(t *testing.T) {
	plugins := writeFile(t, "plugins.yaml", `plugins:
  - id: storage.local
    runtime: builtin
    config: {root: /data}
  - id: compute.wasm
    runtime: wasm
    path: ./algo.wasm
    sha256: `+strings.Repeat("0f", 32)+`
    limits: {memory: 64MiB, call_timeout: 30s}
    grants: {dirs: [{host: /data/in, guest: /in, read_only: true}], hosts: [api.example.org]}
`)
	cfg := mustLoad(t, Sources{PluginsFile: plugins, Env: required()})
	if len(cfg.Plugins) != 2 {
		t.Fatalf("plugins: %+v", cfg.Plugins)
	}
	w := cfg.Plugins[1]
	if w.Limits.Memory != 64<<20 || w.Limits.CallTimeout != 30*time.Second || w.Grants.Dirs[0].Guest != "/in" || w.Grants.Hosts[0] != "api.example.org" {
		t.Fatalf("wasm plugin: %+v", w)
	}
	if w.Path != filepath.Join(filepath.Dir(plugins), "algo.wasm") {
		t.Fatalf("relative path not resolved against plugins.yaml's folder: %s", w.Path)
	}
	if string(cfg.Plugins[0].Config) != `{"root":"/data"}` {
		t.Fatalf("raw plugin config lost: %s", cfg.Plugins[0].Config)
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	node := writeFile(t, "node.yaml", "server:\n  port: 70000\nlog:\n  level: loud\nchain:\n  rpc_url: ftp://x\n")
	msg := loadErr(t, Sources{NodeFile: node, Env: []string{"JWT_SECRET_KEY=short"}})
	for _, want := range []string{
		"server.port: 70000 is not a TCP port",
		`log.level: "loud"`,
		"chain.rpc_url: must be an absolute",
		"keys.provider_keyfile: required",
		"keys.rsa_private_key_file: required",
		"auth.jwt_secret: must be at least 32 bytes",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "short") {
		t.Errorf("the error quotes a secret value:\n%s", msg)
	}
}

func TestTypeErrorsNameSource(t *testing.T) {
	msg := loadErr(t, Sources{Env: append(required(), "NVM_SERVER__READ_TIMEOUT=soon", "PORT=eighty")})
	if !strings.Contains(msg, "server.read_timeout") || !strings.Contains(msg, "from NVM_ environment variables") {
		t.Errorf("duration type error lacks key or source:\n%s", msg)
	}
	if !strings.Contains(msg, "server.port") || !strings.Contains(msg, "from reference environment variables") {
		t.Errorf("port type error lacks key or source:\n%s", msg)
	}
	// The bad value is quoted, and the decoder's heading is not a problem.
	if !strings.Contains(msg, `"soon" is not a duration`) || strings.Contains(msg, "decoding failed") {
		t.Errorf("duration error does not quote the value, or repeats the decoder's heading:\n%s", msg)
	}
}

func TestMissingFileIsAnError(t *testing.T) {
	msg := loadErr(t, Sources{NodeFile: filepath.Join(t.TempDir(), "nope.yaml"), Env: required()})
	if !strings.Contains(msg, "nope.yaml") {
		t.Fatalf("error does not name the file:\n%s", msg)
	}
	bad := writeFile(t, "node.yaml", "server: [unclosed\n")
	if msg := loadErr(t, Sources{NodeFile: bad, Env: required()}); !strings.Contains(msg, "not valid YAML") {
		t.Fatalf("unexpected error:\n%s", msg)
	}
}

func TestPluginValidation(t *testing.T) {
	plugins := writeFile(t, "plugins.yaml", `plugins:
  - {id: s3, runtime: process}
  - {id: storage.x, runtime: docker}
  - {id: storage.x, runtime: builtin}
`)
	msg := loadErr(t, Sources{PluginsFile: plugins, Env: required()})
	for _, want := range []string{`id "s3" is not kind.name`, "path is required for runtime process", "sha256 must be", `runtime "docker"`, `id "storage.x" appears twice`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestRedaction(t *testing.T) {
	keystore := `{"address":"068ed00cf0441e4829d9784fcbe7b9e26d4bd8d0","crypto":{"ciphertext":"deadbeefcafe"}}`
	env := []string{
		"PROVIDER_KEYFILE=" + keystore,
		"PROVIDER_PASSWORD=hunter2-password",
		"RSA_PRIVKEY_FILE=/keys/rsa.pem",
		"JWT_SECRET_KEY=0123456789abcdef0123456789abcdef-secret",
		"WEB3_PROVIDER_URL=https://user:pw@mainnet.example/v3/0xAPIKEY?key=q",
	}
	plugins := writeFile(t, "plugins.yaml", "plugins:\n  - {id: storage.s3, runtime: builtin, config: {secret_access_key: AKIASECRET}}\n")
	cfg := mustLoad(t, Sources{Env: env, PluginsFile: plugins})
	out, err := json.Marshal(cfg.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "0123456789abcdef", "deadbeefcafe", "0xAPIKEY", "pw@", "AKIASECRET"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config still holds %q: %s", secret, out)
		}
	}
	for _, kept := range []string{"/keys/rsa.pem", "https://mainnet.example/", "secret_access_key", "8030"} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("redacted config lost non-secret %q: %s", kept, out)
		}
	}
}

// TestIPFSGatewayKeys: the IPFS gateway must be an http(s) URL, and its
// credentials stay out of the printed configuration.
func TestIPFSGatewayKeys(t *testing.T) {
	msg := loadErr(t, Sources{Env: append(required(), "NVM_STORAGE__IPFS_GATEWAY=ipfs://gateway")})
	if !strings.Contains(msg, "storage.ipfs_gateway: must be an absolute http/https URL") {
		t.Errorf("error: %s", msg)
	}
	cfg := mustLoad(t, Sources{Env: append(required(), "NVM_STORAGE__IPFS_GATEWAY=https://user:gwpass@gw.example/x",
		"NVM_STORAGE__IPFS_API=true", "NVM_STORAGE__IPFS_PROJECT_ID=proj", "NVM_STORAGE__IPFS_PROJECT_SECRET=ipfs-secret-value")})
	if !cfg.Storage.IPFSAPI || cfg.Storage.IPFSProjectID != "proj" || cfg.Storage.IPFSProjectSecret != "ipfs-secret-value" {
		t.Fatalf("storage: %+v", cfg.Storage)
	}
	out, _ := json.Marshal(cfg.Redacted())
	for _, secret := range []string{"ipfs-secret-value", "gwpass"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config holds %q: %s", secret, out)
		}
	}
}

// TestIPFSReferenceVariables: the reference's IPFS variables configure the
// gateway, read with its Kubo RPC call unless NVM_ says otherwise.
func TestIPFSReferenceVariables(t *testing.T) {
	cfg := mustLoad(t, Sources{Env: append(required(), "IPFS_GATEWAY=https://ipfs.example:5001",
		"IPFS_PROJECT_ID=proj", "IPFS_PROJECT_SECRET=ipfs-secret-value")})
	if cfg.Storage.IPFSGateway != "https://ipfs.example:5001" || !cfg.Storage.IPFSAPI ||
		cfg.Storage.IPFSProjectID != "proj" || cfg.Storage.IPFSProjectSecret != "ipfs-secret-value" {
		t.Fatalf("storage: %+v", cfg.Storage)
	}
	cfg = mustLoad(t, Sources{Env: append(required(), "IPFS_GATEWAY=https://gw.example", "NVM_STORAGE__IPFS_API=false")})
	if cfg.Storage.IPFSAPI {
		t.Fatal("NVM_STORAGE__IPFS_API=false did not override the reference default")
	}
}

// TestExampleFilesLoad keeps the documented examples true: node.example.yaml
// and plugins.yaml at the repository root load without a problem.
func TestExampleFilesLoad(t *testing.T) {
	cfg := mustLoad(t, Sources{NodeFile: "../../node.example.yaml", PluginsFile: "../../plugins.yaml", Env: required()})
	if cfg.Server.Port != 8030 || len(cfg.Plugins) == 0 || cfg.Plugins[0].ID != "storage.local" {
		t.Fatalf("examples: %+v", cfg)
	}
	def := Default()
	ex := mustLoad(t, Sources{NodeFile: "../../node.example.yaml", Env: required()})
	// Every default the example states must be the real default.
	if ex.Server != def.Server || ex.Chain != def.Chain || ex.Auth.JWTExpiry != def.Auth.JWTExpiry || ex.Log != def.Log {
		t.Fatalf("node.example.yaml disagrees with Default():\nexample %+v\ndefault %+v", ex, def)
	}
}

func TestUploadSettings(t *testing.T) {
	cfg := mustLoad(t, Sources{Env: required()})
	if cfg.Upload.MaxBytes != 10<<30 || cfg.Upload.Access != UploadPublic || len(cfg.Upload.Uploaders) != 0 || cfg.Upload.IdleTimeout != time.Minute {
		t.Fatalf("upload defaults: %+v", cfg.Upload)
	}
	node := writeFile(t, "node.yaml", "upload:\n  max_bytes: 1048576\n  access: login\n  uploaders: [\"0x00000000000000000000000000000000000000aA\"]\n")
	cfg = mustLoad(t, Sources{NodeFile: node, Env: required()})
	if cfg.Upload.MaxBytes != 1<<20 || cfg.Upload.Access != UploadLogin || len(cfg.Upload.Uploaders) != 1 {
		t.Fatalf("upload settings: %+v", cfg.Upload)
	}
	bad := writeFile(t, "node.yaml", "upload:\n  max_bytes: 0\n  access: everyone\n  uploaders: [alice]\n  idle_timeout: 0s\n")
	msg := loadErr(t, Sources{NodeFile: bad, Env: required()})
	for _, want := range []string{"upload.max_bytes: must be positive", `upload.access: "everyone" is not one of public, login`, `upload.uploaders[0]: "alice" is not an address`, "upload.idle_timeout: must be a positive duration"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	public := writeFile(t, "node.yaml", "upload:\n  uploaders: [\"0x00000000000000000000000000000000000000aA\"]\n")
	if msg := loadErr(t, Sources{NodeFile: public, Env: required()}); !strings.Contains(msg, "upload.uploaders: needs upload.access: login") {
		t.Errorf("uploaders without login accepted:\n%s", msg)
	}
}

func TestLimitsSettings(t *testing.T) {
	cfg := mustLoad(t, Sources{Env: required()})
	if cfg.Limits.Classes.Auth.Rate != 20 || cfg.Limits.Replay.MaxAssertionAge != 5*time.Minute || cfg.Limits.Upload.BufferBytes != 64<<20 {
		t.Fatalf("limits defaults: %+v", cfg.Limits)
	}
	node := writeFile(t, "node.yaml", "limits:\n  trusted_proxies: [10.0.0.0/8, \"::1\"]\n  classes:\n    auth: {rate: 1, burst: 2, per_client: 1, total: 3}\n  replay: {per_client: 10}\n  upload: {min_rate: 0}\n")
	cfg = mustLoad(t, Sources{NodeFile: node, Env: required()})
	if len(cfg.Limits.TrustedProxies) != 2 || cfg.Limits.Classes.Auth != (ClassLimit{Rate: 1, Burst: 2, PerClient: 1, Total: 3}) ||
		cfg.Limits.Classes.Search.Rate != 10 || cfg.Limits.Replay.PerClient != 10 || cfg.Limits.Upload.MinRate != 0 {
		t.Fatalf("limits settings: %+v", cfg.Limits)
	}
	bad := writeFile(t, "node.yaml", "limits:\n  trusted_proxies: [proxy.local]\n  ipv6_prefix: 200\n  classes:\n    read: {rate: 5, burst: 0}\n    write: {total: -1}\n  replay: {per_client: 0, max_assertion_age: 2h}\n  upload: {min_rate: 10, grace: 0s, buffer_bytes: -1}\n")
	msg := loadErr(t, Sources{NodeFile: bad, Env: required()})
	for _, want := range []string{
		`limits.trusted_proxies[0]: "proxy.local" is not an address or CIDR prefix`, "limits.ipv6_prefix: 200",
		"limits.classes.read.burst: must be at least 1", "limits.classes.write: rate, burst",
		"limits.replay.per_client: must be between", "limits.replay.max_assertion_age: must be a positive duration of at most 1h",
		"limits.upload.grace: must be a positive duration", "limits.upload.buffer_bytes: must be positive",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

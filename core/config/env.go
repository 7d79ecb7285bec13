package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// legacyVars maps the reference node's environment variables (SPEC 9.2) to
// our keys, so an operator can switch nodes without renaming anything.
var legacyVars = map[string]string{
	"PORT":                     "server.port",
	"NODE_URI":                 "server.public_url",
	"WEB3_PROVIDER_URL":        "chain.rpc_url",
	"NETWORK_ID":               "chain.chain_id",
	"ARTIFACTS_FOLDER":         "chain.artifacts_folder",
	"CIRCUITS_FOLDER":          "chain.circuits_folder",
	"ENABLE_PROVENANCE":        "chain.provenance",
	"PROVIDER_KEYFILE":         "keys.provider_keyfile",
	"PROVIDER_PASSWORD":        "keys.provider_password",
	"RSA_PUBKEY_FILE":          "keys.rsa_public_key_file",
	"RSA_PRIVKEY_FILE":         "keys.rsa_private_key_file",
	"PROVIDER_BABYJUB_PUBLIC1": "keys.babyjub_public_x",
	"PROVIDER_BABYJUB_PUBLIC2": "keys.babyjub_public_y",
	"JWT_SECRET_KEY":           "auth.jwt_secret",
	"JWT_EXPIRY_KEY":           "auth.jwt_expiry",
	"MARKETPLACE_URI":          "asset.marketplace_uri",
	"IPFS_GATEWAY":             "storage.ipfs_gateway",
	"IPFS_PROJECT_ID":          "storage.ipfs_project_id",
	"IPFS_PROJECT_SECRET":      "storage.ipfs_project_secret",
}

// ignoredLegacyVars are reference variables this node does not take (yet, or
// ever: DTP and Argo are gone). Setting one earns a warning, not an error,
// so a reference deployment's environment still starts.
var ignoredLegacyVars = []string{
	"NODE_ADDRESS", "GRAPH_HTTP_URI", "NEVERMINED_SDK_LOG_LEVEL", "PROVIDER_BABYJUB_SECRET",
	"PROVIDER_DLEQ_SECRET", "ESTUARY_ENDPOINT",
	"ESTUARY_TOKEN", "AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT", "AWS_S3_BUCKET_NAME",
	"ENABLE_COMPUTE", "ARGO_HOST", "ARGO_NAMESPACE", "ARGO_AUTH_TOKEN", "COMPUTE_PROVIDER_KEYFILE",
	"COMPUTE_PROVIDER_PASSWORD", "JWT_SUBSCRIPTION_SECRET_KEY", "NEVERMINED_PROXY_URI",
	"SUBSCRIPTION_DEFAULT_EXPIRY_TIME", "NETWORK_AVERAGE_BLOCK_TIME", "NVM_BACKEND_URL", "NVM_BACKEND_AUTH",
	"TRACK_BACKEND_TXS", "NVM_APP_URL", "ZERODEV_PROJECT_ID", "ENABLE_HTTPS_REDIRECT",
}

// notOurs are NVM_-prefixed variables that are not node settings: the nvm
// Node.js version manager's, the reference node's, and our build and test
// tools' (compiled contracts location, large-stream test size, the plugin
// handshake cookie). The strict NVM_ layer skips them.
var notOurs = map[string]bool{
	"NVM_DIR": true, "NVM_BIN": true, "NVM_INC": true, "NVM_CD_FLAGS": true, "NVM_RC_VERSION": true,
	"NVM_NODEJS_ORG_MIRROR": true, "NVM_IOJS_ORG_MIRROR": true,
	"NVM_BACKEND_URL": true, "NVM_BACKEND_AUTH": true, "NVM_APP_URL": true,
	"NVM_CONTRACTS_DIR": true, "NVM_STORAGETEST_LARGE": true, "NVM_NODE_PLUGIN": true, "NVM_WASM_TEST_CACHE": true,
	"NVM_NODE_PLUGIN_FD_CHANNEL": true, "NVM_E2E_S3_BYTES": true, "NVM_S3_BENCH_SIZE": true, "NVM_GCS_BENCH_CHUNK": true,
}

// envPrefix marks our own variables: NVM_SERVER__PORT sets server.port
// (a double underscore separates sections, a single one stays in the name).
const envPrefix = "NVM_"

func splitEnv(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func legacyEnvLayer(env []string) (layer, []string, []string) {
	vars := splitEnv(env)
	l := layer{name: "reference environment variables", values: map[string]any{}, origins: map[string]string{}}
	var warnings, problems []string
	for name, key := range legacyVars {
		v, ok := vars[name]
		if !ok {
			continue
		}
		origin := "environment variable " + name
		if name == "JWT_EXPIRY_KEY" {
			d, err := ParseMSDuration(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v (from %s)", key, err, origin))
				continue
			}
			l.values[key] = d.String()
		} else {
			l.values[key] = v
		}
		l.origins[key] = origin
	}
	// The reference reads cid:// files with the Kubo RPC call on
	// IPFS_GATEWAY (SPEC 2.5), so its gateway URL names an RPC API, not a
	// path gateway. NVM_STORAGE__IPFS_API=false overrides this.
	if _, ok := vars["IPFS_GATEWAY"]; ok {
		l.values["storage.ipfs_api"] = true
		l.origins["storage.ipfs_api"] = "environment variable IPFS_GATEWAY (the reference's Kubo RPC gateway)"
	}
	for _, name := range ignoredLegacyVars {
		if _, ok := vars[name]; ok {
			warnings = append(warnings, fmt.Sprintf("environment variable %s is a reference-node setting this node does not use; ignored", name))
		}
	}
	sort.Strings(warnings)
	return l, warnings, problems
}

func nvmEnvLayer(env []string) (layer, []string) {
	l := layer{name: "NVM_ environment variables", values: map[string]any{}, origins: map[string]string{}}
	var problems []string
	for name, v := range splitEnv(env) {
		if !strings.HasPrefix(name, envPrefix) || notOurs[name] {
			continue
		}
		rest := strings.TrimPrefix(name, envPrefix)
		if rest == "" {
			continue
		}
		key := strings.ToLower(strings.ReplaceAll(rest, "__", "."))
		if prev, dup := l.origins[key]; dup {
			problems = append(problems, fmt.Sprintf("key %q set twice (environment variables %s and %s)", key, strings.TrimPrefix(prev, "environment variable "), name))
			continue
		}
		l.values[key] = v
		l.origins[key] = "environment variable " + name
	}
	return l, problems
}

var msDurationRE = regexp.MustCompile(`^(-?(?:\d+)?\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$`)

// ParseMSDuration parses the duration syntax of the reference node's
// JWT_EXPIRY_KEY (the vercel/ms package): "60m", "2 days", "1.5h"; a bare
// number is milliseconds.
func ParseMSDuration(s string) (time.Duration, error) {
	m := msDurationRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration such as 60m, 2h, 1d or a number of milliseconds", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: %w", s, err)
	}
	unit := time.Millisecond
	switch u := m[2]; {
	case u == "" || strings.HasPrefix(u, "ms") || strings.HasPrefix(u, "milli"):
	case u == "s" || strings.HasPrefix(u, "sec"):
		unit = time.Second
	case u == "m" || strings.HasPrefix(u, "min"):
		unit = time.Minute
	case u == "h" || strings.HasPrefix(u, "h"):
		unit = time.Hour
	case u == "d" || strings.HasPrefix(u, "day"):
		unit = 24 * time.Hour
	case u == "w" || strings.HasPrefix(u, "week"):
		unit = 7 * 24 * time.Hour
	default: // years, as vercel/ms counts them
		unit = time.Duration(365.25 * 24 * float64(time.Hour))
	}
	d := time.Duration(n * float64(unit))
	if d <= 0 {
		return 0, fmt.Errorf("%q: duration must be positive", s)
	}
	return d, nil
}

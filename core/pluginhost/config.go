package pluginhost

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/wasmguest/wasmhost"
)

// Runtime says how a plugin runs.
type Runtime string

// The runtimes.
const (
	// RuntimeBuiltin: compiled into the node.
	RuntimeBuiltin Runtime = "builtin"
	// RuntimeProcess: a separate binary speaking the rpcplugin protocol.
	RuntimeProcess Runtime = "process"
	// RuntimeWASM: a WebAssembly module (see sdk/wasmguest) run by wazero.
	RuntimeWASM Runtime = "wasm"
)

// File is the document plugins.yaml holds.
type File struct {
	Plugins []Entry `yaml:"plugins"`
}

// Entry is one plugin of plugins.yaml.
type Entry struct {
	// ID is "kind.name", e.g. "storage.s3".
	ID      string  `yaml:"id"`
	Runtime Runtime `yaml:"runtime"`
	// Path is the binary or module, relative to plugins.yaml's folder
	// unless absolute. Not for builtins.
	Path string `yaml:"path"`
	// SHA256 is the hex digest of Path's content, checked before it runs.
	SHA256 string `yaml:"sha256"`
	// Args are passed to a process plugin.
	Args []string `yaml:"args"`
	// Config is handed to the plugin's Configure as JSON, untouched.
	Config plugin.Config `yaml:"-"`
	Limits Limits        `yaml:"limits"`
	Grants Grants        `yaml:"grants"`
	// URLs are the file-URL prefixes a storage plugin serves, e.g.
	// "s3://nvm-assets/": a DDO file URL starting with one is read from this
	// plugin under the rest of the URL as key, and an upload to it is
	// answered with the first prefix + key. Empty means "<name>://".
	URLs []string `yaml:"urls"`
}

// URLPrefixes returns the file-URL prefixes a storage plugin serves:
// URLs, or "<name>://" when none are declared. Compute plugins serve none.
func (e Entry) URLPrefixes() []string {
	if e.Kind() != plugin.KindStorage {
		return nil
	}
	if len(e.URLs) > 0 {
		return append([]string(nil), e.URLs...)
	}
	return []string{e.Name() + "://"}
}

// Limits bound a plugin.
type Limits struct {
	// CallTimeout bounds each call; zero means none beyond the caller's.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// StartTimeout bounds a process plugin's start; zero means 10s.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// Memory caps a WASM module's memory.
	Memory ByteSize `yaml:"memory"`
}

// Grants are what a plugin may reach beyond its own code. Nothing is
// granted by default.
type Grants struct {
	// Env names node environment variables passed to a process plugin,
	// which otherwise gets an empty environment.
	Env []string `yaml:"env"`
	// Dirs are host folders mounted into a WASM module.
	Dirs []DirGrant `yaml:"dirs"`
	// Hosts are the network hosts a WASM module may reach over HTTP(S)
	// (wasmguest.HTTPClient): "name" or "ip" allows ports 80 and 443,
	// "name:port" exactly that port; no schemes, paths or wildcards (see
	// wasmhost.HostGrants).
	Hosts []string `yaml:"hosts"`
}

// DirGrant mounts a host folder into a WASM module.
type DirGrant struct {
	Host     string `yaml:"host"`
	Guest    string `yaml:"guest"`
	ReadOnly bool   `yaml:"read_only"`
}

// ByteSize is a size in bytes, written as a number or with a unit
// ("256MiB", "1GiB", "64KiB").
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return fmt.Errorf("line %d: invalid size %q (want e.g. 256MiB)", n.Line, n.Value)
	}
	*b = ByteSize(v * mult)
	return nil
}

// rawEntry mirrors Entry to capture config as a YAML node.
type rawEntry struct {
	ID      string    `yaml:"id"`
	Runtime Runtime   `yaml:"runtime"`
	Path    string    `yaml:"path"`
	SHA256  string    `yaml:"sha256"`
	Args    []string  `yaml:"args"`
	Config  yaml.Node `yaml:"config"`
	Limits  Limits    `yaml:"limits"`
	Grants  Grants    `yaml:"grants"`
	URLs    []string  `yaml:"urls"`
}

// LoadFile reads and validates a plugins.yaml file. Relative plugin paths
// are resolved against the file's folder.
func LoadFile(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	entries, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

// Parse decodes and validates a plugins.yaml document, reporting every
// problem at once. Unknown keys are errors. baseDir resolves relative
// paths.
func Parse(data []byte, baseDir string) ([]Entry, error) {
	var doc struct {
		Plugins []rawEntry `yaml:"plugins"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("plugins.yaml: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	entries := make([]Entry, 0, len(doc.Plugins))
	for i, r := range doc.Plugins {
		e := Entry{ID: r.ID, Runtime: r.Runtime, Path: r.Path, SHA256: strings.ToLower(r.SHA256), Args: r.Args, Limits: r.Limits, Grants: r.Grants, URLs: r.URLs}
		where := fmt.Sprintf("plugins[%d]", i)
		if r.ID != "" {
			where += " (" + r.ID + ")"
		}
		if r.Config.Kind != 0 {
			cfg, err := configJSON(&r.Config)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: config: %w", where, err))
			}
			e.Config = cfg
		}
		if e.Path != "" && !filepath.IsAbs(e.Path) && baseDir != "" {
			e.Path = filepath.Join(baseDir, e.Path)
		}
		for _, err := range e.problems() {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if seen[e.ID] {
			errs = append(errs, fmt.Errorf("%s: id %q appears twice", where, e.ID))
		}
		seen[e.ID] = true
		entries = append(entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return entries, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Kind returns the kind part of the id.
func (e Entry) Kind() plugin.Kind {
	k, _, _ := strings.Cut(e.ID, ".")
	return plugin.Kind(k)
}

// Name returns the name part of the id.
func (e Entry) Name() string {
	_, n, _ := strings.Cut(e.ID, ".")
	return n
}

// Validate reports every problem with e.
func (e Entry) Validate() error { return errors.Join(e.problems()...) }

func (e Entry) problems() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	kind, name, ok := strings.Cut(e.ID, ".")
	switch {
	case e.ID == "":
		bad("id is required (kind.name, e.g. storage.s3)")
	case !ok || !plugin.Kind(kind).Valid() || !plugin.ValidName(name):
		bad("id %q is not kind.name with kind storage or compute and name [a-z][a-z0-9-]*", e.ID)
	}
	switch e.Runtime {
	case RuntimeBuiltin:
		if e.Path != "" || e.SHA256 != "" || len(e.Args) > 0 {
			bad("a builtin plugin takes no path, sha256 or args")
		}
	case RuntimeProcess, RuntimeWASM:
		if e.Path == "" {
			bad("path is required for runtime %s", e.Runtime)
		}
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 {
			bad("sha256 must be the 64 hex digits of the %s's sha256 (got %q)", map[Runtime]string{RuntimeProcess: "binary", RuntimeWASM: "module"}[e.Runtime], e.SHA256)
		}
	case "":
		bad("runtime is required (builtin, process or wasm)")
	default:
		bad("runtime %q is not builtin, process or wasm", e.Runtime)
	}
	if e.Limits.CallTimeout < 0 || e.Limits.StartTimeout < 0 || e.Limits.Memory < 0 {
		bad("limits must not be negative")
	}
	if e.Limits.Memory > 0 && e.Runtime != RuntimeWASM {
		bad("limits.memory applies to the wasm runtime only")
	}
	for _, name := range e.Grants.Env {
		if !envNameRE.MatchString(name) {
			bad("grants.env: %q is not an environment variable name", name)
		}
	}
	if len(e.Grants.Env) > 0 && e.Runtime != RuntimeProcess {
		bad("grants.env applies to the process runtime only")
	}
	if len(e.Grants.Dirs) > 0 && e.Runtime != RuntimeWASM {
		bad("grants.dirs applies to the wasm runtime only")
	}
	if len(e.Grants.Hosts) > 0 && e.Runtime != RuntimeWASM {
		bad("grants.hosts applies to the wasm runtime only: a %s plugin uses the node's own network access, which plugins.yaml does not restrict", e.Runtime)
	}
	for _, d := range e.Grants.Dirs {
		if !filepath.IsAbs(d.Host) || d.Guest == "" || !strings.HasPrefix(d.Guest, "/") {
			bad("grants.dirs: host %q and guest %q must both be absolute paths", d.Host, d.Guest)
		}
	}
	if len(e.URLs) > 0 && plugin.Kind(kind) != plugin.KindStorage {
		bad("urls apply to storage plugins only")
	}
	for _, u := range e.URLs {
		if err := validURLPrefix(u); err != nil {
			bad("urls: %q: %v", u, err)
		}
	}
	if _, err := wasmhost.ParseHostGrants(e.Grants.Hosts); err != nil {
		bad("%v (want a host name or IP address, allowing ports 80 and 443, or host:port, e.g. api.example.org or 127.0.0.1:9000)", err)
	}
	return errs
}

// validURLPrefix accepts "scheme://" optionally followed by a host and path
// ending in "/", so that a prefix never matches half a path element
// ("s3://bucket" would also match "s3://bucket-other/...").
func validURLPrefix(p string) error {
	scheme, rest, ok := strings.Cut(p, "://")
	if !ok || scheme == "" || strings.ToLower(scheme) != scheme {
		return errors.New("want a lower-case scheme followed by ://, e.g. s3://bucket/")
	}
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return errors.New("the scheme has characters a URL scheme cannot have")
		}
	}
	if rest != "" && !strings.HasSuffix(rest, "/") {
		return errors.New("a prefix with a host or path must end with /")
	}
	if strings.ContainsAny(rest, "?# \t\n") || strings.Contains(rest, "/../") || strings.Contains(rest, "/./") {
		return errors.New("a prefix must not hold a query, fragment, spaces or dot segments")
	}
	return nil
}

// configJSON converts the YAML config mapping to the JSON document the
// plugin receives.
func configJSON(n *yaml.Node) (plugin.Config, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: config must be a mapping", n.Line)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	v, err := jsonable(v)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return plugin.Config(b), nil
}

// jsonable turns YAML's decoded values into ones encoding/json accepts.
func jsonable(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			j, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			x[k] = j
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("config key %v is not a string", k)
			}
			j, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			m[ks] = j
		}
		return m, nil
	case []any:
		for i, e := range x {
			j, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			x[i] = j
		}
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

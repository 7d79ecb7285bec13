package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/nvm-node/nvm-node/core/pluginhost"
)

// ErrInvalid is wrapped by every error Load returns for bad configuration.
var ErrInvalid = errors.New("invalid configuration")

// Problems lists every configuration problem found in one Load.
type Problems []string

func (p Problems) Error() string {
	return "invalid configuration:\n  - " + strings.Join(p, "\n  - ")
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (p Problems) Is(target error) bool { return target == ErrInvalid }

// Sources names the configuration layers, lowest precedence first.
type Sources struct {
	// NodeFile is the path of node.yaml; empty means none.
	NodeFile string
	// PluginsFile is the path of plugins.yaml; empty means none.
	PluginsFile string
	// Env is the process environment as os.Environ returns it.
	Env []string
	// Overrides come from the command line, applied last and in order.
	Overrides []Override
}

// Override sets one key from the command line.
type Override struct {
	Key    string
	Value  string
	Origin string // e.g. "flag --port"
}

// layer is one source's values, flattened to dotted keys.
type layer struct {
	name    string
	values  map[string]any
	origins map[string]string // key -> where it came from, when finer than name
}

func (l layer) origin(key string) string {
	if o, ok := l.origins[key]; ok {
		return o
	}
	return l.name
}

// Load reads every source over base (usually Default or DevDefault) and
// returns the validated configuration and warnings worth logging (such as
// reference variables this node ignores). All problems are reported at once
// in an error wrapping ErrInvalid.
func Load(base Config, src Sources) (*Config, []string, error) {
	var problems Problems
	var layers []layer
	if src.NodeFile != "" {
		l, err := fileLayer(src.NodeFile, "node.yaml")
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			layers = append(layers, l)
		}
	}
	var plugins []pluginhost.Entry
	if src.PluginsFile != "" {
		var err error
		if plugins, err = pluginhost.LoadFile(src.PluginsFile); err != nil {
			for _, msg := range decodeMessages(err) {
				problems = append(problems, fmt.Sprintf("%s (from plugins.yaml)", msg))
			}
		}
	}
	legacy, warnings, lp := legacyEnvLayer(src.Env)
	problems = append(problems, lp...)
	layers = append(layers, legacy)
	nvm, np := nvmEnvLayer(src.Env)
	problems = append(problems, np...)
	layers = append(layers, nvm)
	layers = append(layers, overrideLayer(src.Overrides))

	known := knownKeys(reflect.TypeOf(Config{}), "")
	for _, l := range layers {
		problems = append(problems, checkKeys(l, known)...)
	}
	if len(problems) > 0 {
		return nil, warnings, problems
	}
	// Decode each layer alone first so that a type error names its source.
	for _, l := range layers {
		probe := base
		if err := decode(l.values, &probe); err != nil {
			for _, msg := range decodeMessages(err) {
				problems = append(problems, fmt.Sprintf("%s (from %s)", msg, l.name))
			}
		}
	}
	if len(problems) > 0 {
		return nil, warnings, problems
	}
	merged := koanf.New(".")
	for _, l := range layers {
		if err := merged.Load(confmap.Provider(l.values, "."), nil); err != nil {
			return nil, warnings, fmt.Errorf("%w: merging %s: %v", ErrInvalid, l.name, err)
		}
	}
	cfg := base
	// plugins.yaml, when given, replaces the base's plugins (the dev
	// defaults' local storage); without one the base's stay.
	if src.PluginsFile != "" {
		cfg.Plugins = plugins
	}
	if err := decode(merged.All(), &cfg); err != nil {
		return nil, warnings, Problems(decodeMessages(err))
	}
	if p := cfg.Validate(); len(p) > 0 {
		return nil, warnings, p
	}
	return &cfg, warnings, nil
}

func fileLayer(path, name string) (layer, error) {
	label := fmt.Sprintf("%s %s", name, path)
	if _, err := os.Stat(path); err != nil {
		return layer{}, fmt.Errorf("%s: %w", label, err)
	}
	k := koanf.New(".")
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		return layer{}, fmt.Errorf("%s: not valid YAML: %v", label, err)
	}
	return layer{name: label, values: k.All()}, nil
}

func overrideLayer(ovs []Override) layer {
	l := layer{name: "command line", values: map[string]any{}, origins: map[string]string{}}
	for _, o := range ovs {
		l.values[o.Key] = o.Value
		l.origins[o.Key] = o.Origin
	}
	return l
}

// knownKeys lists the dotted keys a Config takes. Structs are sections;
// everything else (including slices such as plugins) is a leaf.
func knownKeys(t reflect.Type, prefix string) map[string]bool {
	keys := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			for k := range knownKeys(f.Type, key+".") {
				keys[k] = true
			}
			continue
		}
		keys[key] = true
	}
	return keys
}

func checkKeys(l layer, known map[string]bool) []string {
	var problems []string
	keys := make([]string, 0, len(l.values))
	for k := range l.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if known[k] {
			continue
		}
		msg := fmt.Sprintf("unknown key %q (from %s)", k, l.origin(k))
		if k == "plugins" || strings.HasPrefix(k, "plugins.") {
			msg += "; plugins are declared in plugins.yaml (--plugins)"
		} else if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		problems = append(problems, msg)
	}
	return problems
}

// suggest returns the known key closest to k when it is a likely typo.
func suggest(k string, known map[string]bool) string {
	best, bestD := "", 3
	for c := range known {
		if d := levenshtein(k, c); d < bestD || (d == bestD && best != "" && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func decode(values map[string]any, out *Config) error {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(values, "."), nil); err != nil {
		return err
	}
	return k.UnmarshalWithConf("", out, koanf.UnmarshalConf{
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				durationHook,
				mapstructure.StringToSliceHookFunc(","),
			),
			WeaklyTypedInput: true,
			ErrorUnused:      true,
			TagName:          "koanf",
		},
	})
}

// durationHook parses durations like mapstructure's own hook, but its error
// quotes the bad value and the accepted form: the decoder keeps only the
// last wrapped message, which for time.ParseDuration is "unknown unit".
func durationHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(data.(string)))
	if err != nil {
		return nil, fmt.Errorf("%q is not a duration (write it as 300ms, 30s, 5m or 1h30m)", data)
	}
	return d, nil
}

// decodeMessages flattens a decoder error tree into one message per problem.
func decodeMessages(err error) []string {
	var msgs []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		for _, line := range strings.Split(e.Error(), "\n") {
			// The decoder's own heading is not a problem of its own.
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "decoding failed due to the following error") {
				msgs = append(msgs, line)
			}
		}
	}
	walk(err)
	slices.Sort(msgs)
	return slices.Compact(msgs)
}

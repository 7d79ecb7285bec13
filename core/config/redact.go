package config

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// Redacted is the placeholder printed in place of a secret.
const Redacted = "<redacted>"

// Redacted returns the configuration as nested maps keyed like the config
// files, with every secret masked, ready to print as YAML or JSON.
func (c *Config) Redacted() map[string]any {
	out := redactStruct(reflect.ValueOf(*c))
	if len(c.Plugins) > 0 {
		plugins := make([]any, len(c.Plugins))
		for i, p := range c.Plugins {
			// A plugin's config is its own and often holds credentials:
			// keep its keys, mask its values.
			var raw map[string]any
			_ = json.Unmarshal(p.Config, &raw)
			masked := map[string]any{}
			for k := range raw {
				masked[k] = Redacted
			}
			plugins[i] = map[string]any{
				"id": p.ID, "runtime": string(p.Runtime), "path": p.Path, "sha256": p.SHA256,
				"config": masked,
			}
		}
		out["plugins"] = plugins
	}
	return out
}

func redactStruct(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" || name == "-" {
			continue
		}
		fv := v.Field(i)
		switch {
		case f.Tag.Get("secret") != "":
			out[name] = redactValue(f.Tag.Get("secret"), fv.String())
		case fv.Type() == reflect.TypeOf(time.Duration(0)):
			out[name] = time.Duration(fv.Int()).String()
		case fv.Kind() == reflect.Struct:
			out[name] = redactStruct(fv)
		default:
			out[name] = fv.Interface()
		}
	}
	return out
}

func redactValue(kind, s string) string {
	if s == "" {
		return ""
	}
	switch kind {
	case "url":
		u, err := url.Parse(s)
		if err != nil {
			return Redacted
		}
		if u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" {
			return s
		}
		return u.Scheme + "://" + u.Host + "/" + Redacted
	case "inline-json":
		if strings.HasPrefix(strings.TrimSpace(s), "{") {
			return Redacted + " (inline keystore JSON)"
		}
		return s
	default:
		return Redacted
	}
}

package config

import (
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
	return redactStruct(reflect.ValueOf(*c))
}

func redactStruct(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" {
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
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			items := make([]any, fv.Len())
			for j := range fv.Len() {
				items[j] = redactStruct(fv.Index(j))
			}
			out[name] = items
		case fv.Kind() == reflect.Map:
			// Plugin config is the plugin's own and may hold credentials: keep
			// its keys, mask its values.
			m := map[string]any{}
			for _, k := range fv.MapKeys() {
				m[k.String()] = Redacted
			}
			out[name] = m
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

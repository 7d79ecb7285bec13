// Package plugin defines the lifecycle every nvm-node backend shares,
// whatever its kind (storage, compute) and whatever runtime hosts it
// (builtin, process, wasm).
//
// # Lifecycle
//
// The host calls Info, then Configure once with the plugin's raw
// configuration, then any kind-specific methods, then Close. Close must work
// after a failed Configure, and after Close every method returns an error
// wrapping ErrClosed.
//
// # Context
//
// Every method takes a context first. A backend must stop work and return
// promptly (with an error wrapping ctx.Err()) when the context is cancelled.
// A context bounds the call, not the values it returns: a stream returned by
// a call keeps working after that call's context is done, unless the backend
// documents otherwise; it is stopped by closing it.
//
// # Concurrency
//
// A backend must be safe for concurrent use by multiple goroutines once
// Configure has returned. Configure and Close are never called concurrently
// with each other by the host, but Close may be called while other calls are
// in flight; those calls then fail with ErrClosed or finish normally.
//
// # Capabilities
//
// What a backend can do beyond the required methods is data in Info, not a
// Go interface to type-assert, because type assertions do not cross a process
// or a WASM boundary. An operation a backend does not support returns an
// error wrapping errors.ErrUnsupported.
package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// ProtocolVersion is the version of the wire protocol between the node and a
// process or WASM plugin. The host refuses a plugin speaking another version,
// with an error naming both versions.
const ProtocolVersion = 1

// Kind is the kind of backend a plugin provides.
type Kind string

// The kinds of backend the node hosts.
const (
	KindStorage Kind = "storage"
	KindCompute Kind = "compute"
)

// Valid reports whether k is a kind the node knows.
func (k Kind) Valid() bool { return k == KindStorage || k == KindCompute }

// Capability names one optional feature of a backend, namespaced by kind, for
// example "storage.range". The kind packages define the known ones.
type Capability string

// Info describes a plugin. Kind, Name, Version and APIVersion never change;
// Capabilities may grow with the configuration (a backend that can presign
// only with a signing key declares storage.CapPresign once Configure loaded
// one), so hosts read Info again after a successful Configure. Between
// Configures a backend returns the same Info on every call.
type Info struct {
	// Kind is the kind of backend.
	Kind Kind `json:"kind"`
	// Name is the backend's name within its kind, for example "local" or
	// "s3"; together they form the plugin id "storage.s3".
	Name string `json:"name"`
	// Version is the plugin's own release version (free form, e.g. semver).
	Version string `json:"version"`
	// APIVersion is the version of the kind's Go API the plugin implements
	// (storage.APIVersion or compute.APIVersion when it was built).
	APIVersion int `json:"apiVersion"`
	// Capabilities lists the optional features the backend supports.
	Capabilities []Capability `json:"capabilities,omitempty"`
}

// ID returns the plugin id "kind.name".
func (i Info) ID() string { return string(i.Kind) + "." + i.Name }

// Has reports whether the backend declares capability c.
func (i Info) Has(c Capability) bool { return slices.Contains(i.Capabilities, c) }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidName reports whether name is a valid backend name: lower-case ASCII
// letters, digits and '-', starting with a letter, at most 63 bytes.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Validate reports the first problem with i, if any.
func (i Info) Validate() error {
	switch {
	case !i.Kind.Valid():
		return fmt.Errorf("plugin info: unknown kind %q", i.Kind)
	case !ValidName(i.Name):
		return fmt.Errorf("plugin info: invalid name %q (want [a-z][a-z0-9-]*)", i.Name)
	case i.APIVersion <= 0:
		return fmt.Errorf("plugin info %s: API version %d is not positive", i.ID(), i.APIVersion)
	}
	return nil
}

// Plugin is the lifecycle every backend implements.
type Plugin interface {
	// Info describes the plugin. It may be called at any time, including
	// before Configure and after Close.
	Info(ctx context.Context) (Info, error)
	// Configure hands the plugin its configuration from plugins.yaml. It is
	// called once, before any kind-specific method. An error leaves the
	// plugin unusable except for Info and Close.
	Configure(ctx context.Context, cfg Config) error
	// Close releases the plugin's resources. It is safe to call more than
	// once and after a failed Configure; calls after the first return nil.
	Close(ctx context.Context) error
}

// Config is a plugin's raw configuration: the JSON encoding of the "config"
// mapping of its plugins.yaml entry, or empty when there is none. The node
// hands it over untouched; only the plugin knows its schema.
type Config []byte

// Decode decodes c into v, which must be a pointer, refusing unknown fields
// so a typo in plugins.yaml is an error rather than a silently ignored
// setting. An empty Config leaves v unchanged.
func (c Config) Decode(v any) error {
	if len(bytes.TrimSpace(c)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(c))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the configuration object", ErrInvalidConfig)
	}
	return nil
}

// Errors shared by every kind of backend. Backends wrap them (with %w) so
// the host can test them with errors.Is across every transport.
var (
	// ErrClosed is returned by calls on a closed plugin.
	ErrClosed = errors.New("plugin closed")
	// ErrNotConfigured is returned by kind-specific calls made before a
	// successful Configure.
	ErrNotConfigured = errors.New("plugin not configured")
	// ErrInvalidConfig is returned by Configure for a configuration the
	// plugin cannot accept.
	ErrInvalidConfig = errors.New("invalid plugin configuration")
	// ErrUnavailable is returned by the host when the plugin cannot serve
	// the call: its process crashed, is restarting, or its circuit breaker
	// is open. The call may succeed if retried later.
	ErrUnavailable = errors.New("plugin unavailable")
	// ErrInternal is returned for a failure inside the plugin that fits no
	// other error. Its message is the only detail.
	ErrInternal = errors.New("plugin internal error")
)

// Package config turns the node's configuration sources into one typed,
// validated Config.
//
// Sources, in rising precedence: built-in defaults, node.yaml,
// the reference node's environment variables (PORT, WEB3_PROVIDER_URL, ...),
// NVM_-prefixed environment variables, and command-line overrides. Loading is
// strict: a key that no field takes is an error that names the key and the
// source it came from, and every problem found is reported at once.
//
// Backends are declared apart, in plugins.yaml, whose schema package
// pluginhost owns; its problems are reported with the others.
//
// Fields tagged `secret:"true"` never leave the process in clear: Redacted
// masks them for printing and logging.
package config

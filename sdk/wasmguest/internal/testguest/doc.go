// Package testguest holds WASM modules the node's tests build to check how
// the wasm runtime copes with a misbehaving plugin. They are not examples.
package testguest

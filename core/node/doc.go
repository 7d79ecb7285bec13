// Package node wires the node together: it decrypts the keys once, starts
// the chain probe and the HTTP server, and shuts them down gracefully.
package node

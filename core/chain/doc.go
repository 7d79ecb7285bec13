// Package chain is the node's view of the Ethereum chain: the Nevermined
// artifacts folder, network names, and whether the chain answers.
//
// Later work adds contract handles, agreement lookups and the transaction
// sender here; this package owns every RPC connection the node makes.
package chain

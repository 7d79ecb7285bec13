// Package chain is the node's on-chain layer: the Nevermined artifacts
// folder and network names, whether the chain answers (Prober), and, through
// a Client, everything the node reads from or sends to the Nevermined v3
// contracts.
//
//   - Contract handles come from the artifacts folder
//     (`<Contract>.<network>.json`), so the node runs against any v3
//     deployment; overloaded methods are addressed by full signature.
//   - Agreement and condition ids are computed locally exactly as the
//     contracts do (SPEC 4.2/4.3; tests compare them with the contracts'
//     own hashValues/generateId views).
//   - Agreements are found through AgreementStoreManager and the template's
//     AgreementCreated log, searched in bounded eth_getLogs chunks; condition
//     states are read from the ConditionStoreManager. Only immutable facts
//     are cached (fulfilled conditions, created agreements).
//   - A Sender owns the provider account's nonce; a Provider verifies the
//     lock payment (or NFT holding) before sending anything and fulfils each
//     condition at most once, sharing one transaction among concurrent
//     requests: ProcessAccess (access), ProcessNFTAccess (nft-access),
//     ProcessNFTSale (nft-transfer).
//   - Publisher and consumer helpers (RegisterDID, OrderAccess, OrderNFT,
//     OrderNFTAccess, RequestTokens, balances) do what the SDK does, for
//     end-to-end tests and Go clients.
//
// Errors: ErrUnavailable wraps transport and RPC-side failures (answer 503
// and retry later); ErrNoAgreement, ErrAgreementMismatch, ErrNotPaid,
// ErrNotHolder, ErrConditionAborted, ErrNotFulfilled and ErrReverted describe the
// agreement. This package owns every RPC connection the node makes.
package chain

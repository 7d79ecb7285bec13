// Package auth verifies the client assertions Nevermined clients (SDK 3.1.2)
// send to POST /api/v1/node/services/oauth/token, and issues and verifies the
// node's access tokens (SPEC 3).
//
// A client assertion is a compact JWS-like string base64url(header) "."
// base64url(payload) "." base64url(signature) whose header says alg ES256K but
// whose signature is an Ethereum one: EIP-191 personal_sign over the signing
// input, or EIP-712 typed data when the payload has eip712Data. [Verifier]
// checks it; [Tokens] turns a verified assertion into an HS256 access token
// and checks such tokens on data endpoints. Deciding whether the issuer may
// have a token for the assertion's audience (on-chain authorization) and the
// HTTP handler live elsewhere.
//
// Security rules, which every change to this package must keep:
//
//   - Parsing is strict and bounded: at most [MaxAssertionSize] bytes, three
//     base64url segments, header alg exactly ES256K (HS256 for access tokens;
//     "none" and every other alg refused), a JSON object payload without
//     duplicate claims, typed claims, iss an EIP-55 checksummed address.
//     Malformed input gives an error wrapping a sentinel, never a panic.
//   - The signer is proven, not assumed: ecrecover must give iss (low-s only,
//     v 27/28 or 0/1); otherwise iss must be a deployed contract whose ERC-1271
//     isValidSignature returns the magic value (a gas-capped eth_call; a
//     call that cannot be made is [ErrUnverifiable], never a pass). ERC-6492
//     (undeployed smart accounts) is not supported and is refused.
//   - Assertions expire: iat and exp are required, exp must not have passed
//     and iat must not be in the future (beyond a small leeway), exp-iat is
//     capped, and an assertion is accepted only for a few minutes after its
//     iat (MaxAge) whatever its exp. The reference accepted any age (SPEC 11.17).
//   - Assertions are used once: the signed digest is remembered through the
//     assertion's last valid instant, after the signature verified. A repeat
//     within that time gets the first use's grant again ([Verifier.Exchange]:
//     the same token, byte for byte, with no second authorization) or
//     [ErrReplayed] ([Verifier.Verify]). The bounded store gives each client
//     address a share ([ErrReplayQuota] for that client alone) and, when
//     full, makes room from the client holding the most, so no client can
//     make it refuse everyone.
//   - Access tokens are bound: each carries the audience, agreement and DID it
//     was authorized for, and [Tokens.Verify] requires the endpoint's audience
//     (an empty requirement fails closed), the request's agreement and DID
//     (SPEC 3.3 GO, 11.1). Only tokens from verified assertions are issued.
//   - The token secret is at least 32 bytes and never appears in errors or
//     formatted values; RPC endpoint URLs (which may hold API keys) are
//     dropped from chain errors.
package auth

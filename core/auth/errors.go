package auth

import "errors"

// Sentinel errors. Every error this package returns for bad input wraps one of
// them, so callers map them to HTTP answers with errors.Is and never parse
// messages. Messages name what was wrong, never a secret.
var (
	// ErrMalformed reports an assertion or token that is not well formed: wrong
	// number of segments, bad base64url, bad JSON, missing or mistyped claims, an
	// issuer that is not an EIP-55 checksummed address, an oversized input.
	ErrMalformed = errors.New("auth: malformed")

	// ErrUnsupportedAlgorithm reports a header whose alg is not the one this
	// kind of token uses (ES256K for client assertions, HS256 for access tokens).
	ErrUnsupportedAlgorithm = errors.New("auth: unsupported algorithm")

	// ErrBadSignature reports a signature that does not prove the issuer signed
	// the assertion (or, for access tokens, that the node issued the token).
	ErrBadSignature = errors.New("auth: bad signature")

	// ErrUnverifiable reports a signature that could not be checked because the
	// chain could not be asked (ERC-1271 call failed). It is not proof of a bad
	// signature; the caller decides whether to answer 401 or 503.
	ErrUnverifiable = errors.New("auth: signature could not be verified")

	// ErrExpired reports an assertion or token whose exp has passed (beyond the
	// allowed clock skew).
	ErrExpired = errors.New("auth: expired")

	// ErrNotYetValid reports an assertion or token issued in the future (iat or
	// nbf beyond the allowed clock skew).
	ErrNotYetValid = errors.New("auth: not yet valid")

	// ErrLifetime reports an assertion whose exp-iat exceeds the configured
	// maximum lifetime, or whose exp is not after its iat.
	ErrLifetime = errors.New("auth: bad assertion lifetime")

	// ErrReplayed reports an assertion that was already accepted once.
	ErrReplayed = errors.New("auth: assertion already used")

	// ErrReplayStoreFull reports that a replay store cannot record a new
	// assertion at all (answer 503). [MemoryReplayStore] never returns it: it
	// refuses only the client holding the most ([ErrReplayQuota]); a shared
	// store that is unreachable may.
	ErrReplayStoreFull = errors.New("auth: replay store full")

	// ErrReplayQuota reports that the client address holds its share of the
	// replay store: that client alone is refused (answer 429) until some of
	// its assertions expire.
	ErrReplayQuota = errors.New("auth: too many assertions from this client")

	// ErrWrongAudience reports a token whose aud is not one the endpoint accepts.
	ErrWrongAudience = errors.New("auth: wrong audience")

	// ErrWrongAgreement reports a token whose agreement (sub) is not the one
	// the request names.
	ErrWrongAgreement = errors.New("auth: wrong agreement")

	// ErrWrongDID reports a token whose did is not the one the request names.
	ErrWrongDID = errors.New("auth: wrong DID")

	// ErrWrongChain reports an EIP-712 assertion signed for another chain id
	// than the node's (only when the verifier is configured with a chain id).
	ErrWrongChain = errors.New("auth: wrong chain id")

	// ErrUnverified reports an attempt to issue an access token from an
	// assertion that did not come out of [Verifier.Verify].
	ErrUnverified = errors.New("auth: assertion not verified")

	// ErrConfig reports an unusable configuration (short secret, negative
	// durations).
	ErrConfig = errors.New("auth: bad configuration")
)

package asset

import "errors"

// Sentinel errors. Errors from this package and its sub-packages wrap one of
// them so callers map them with errors.Is, never by message.
var (
	// ErrInvalidDID reports a string that is not a well-formed DID.
	ErrInvalidDID = errors.New("asset: invalid DID")

	// ErrInvalidDDO reports a document that is not a DDO the node can use:
	// not JSON, too large, or a field the node depends on has the wrong type.
	ErrInvalidDDO = errors.New("asset: invalid DDO")

	// ErrNotFound reports that no source knows the DID.
	ErrNotFound = errors.New("asset: not found")

	// ErrUnavailable reports that a source could not answer (network error,
	// timeout, unexpected status). It says nothing about whether the asset
	// exists.
	ErrUnavailable = errors.New("asset: metadata source unavailable")

	// ErrNoService reports a DDO without the service an operation needs.
	ErrNoService = errors.New("asset: no such service")

	// ErrNoCondition reports an agreement service without the named
	// condition or condition parameter.
	ErrNoCondition = errors.New("asset: no such condition parameter")

	// ErrNoFile reports a file index the DDO does not list.
	ErrNoFile = errors.New("asset: no such file")
)

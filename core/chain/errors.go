package chain

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ethereum/go-ethereum/rpc"
)

// Errors of the on-chain layer. Callers branch on them with errors.Is.
var (
	// ErrUnavailable wraps every failure to reach the chain (transport
	// errors, timeouts, HTTP 429/5xx, an RPC node's internal errors): the
	// request may succeed later, so the API answers 503 with Retry-After.
	ErrUnavailable = errors.New("chain unavailable")
	// ErrNoAgreement means the agreement id is unknown on chain.
	ErrNoAgreement = errors.New("no such agreement")
	// ErrAgreementMismatch means the agreement exists but does not match
	// what the caller or the DDO says (template, DID, price, consumer).
	ErrAgreementMismatch = errors.New("agreement does not match")
	// ErrNotPaid means the lock payment condition is not fulfilled.
	ErrNotPaid = errors.New("payment not locked")
	// ErrConditionAborted means a condition the flow needs was aborted
	// (timed out); it can never be fulfilled.
	ErrConditionAborted = errors.New("condition aborted")
	// ErrNotFulfilled means a fulfil transaction was mined but the
	// condition is still not fulfilled.
	ErrNotFulfilled = errors.New("condition not fulfilled")
	// ErrReverted means the chain rejected a call or transaction (EVM
	// revert, failed receipt): retrying the same thing will not help.
	ErrReverted = errors.New("reverted")
	// ErrUnknownContract means the artifacts hold no such contract or
	// method.
	ErrUnknownContract = errors.New("unknown contract")
)

// classify turns an RPC error into one of the package's errors. JSON-RPC
// answers that describe the call (reverts, which carry revert data, and EVM
// errors) are ErrReverted; the
// rest, including errors the node reports about itself, are ErrUnavailable.
// The RPC URL is removed from the text, as it may carry an API key.
func classify(rpcURL, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var dataErr rpc.DataError
	var rpcErr rpc.Error
	msg := redact(rpcURL, err.Error())
	switch {
	case (errors.As(err, &dataErr) && dataErr.ErrorData() != nil) || strings.Contains(err.Error(), "execution reverted"):
		return &chainError{msg: op + ": " + msg, kind: ErrReverted, err: err}
	case errors.As(err, &rpcErr) && isCallError(rpcErr.ErrorCode(), err.Error()):
		return &chainError{msg: op + ": " + msg, kind: ErrReverted, err: err}
	default:
		return &chainError{msg: op + ": " + msg, kind: ErrUnavailable, err: err}
	}
}

// isCallError reports whether a JSON-RPC error blames the request rather
// than the node: EVM errors answered by eth_call / eth_estimateGas.
func isCallError(code int, msg string) bool {
	if code == 3 || code == -32602 {
		return true
	}
	for _, s := range []string{"revert", "invalid opcode", "out of gas", "insufficient funds", "gas required exceeds"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// chainError carries a redacted message and keeps both the kind sentinel and
// the original error reachable through errors.Is / errors.As.
type chainError struct {
	msg  string
	kind error
	err  error
}

func (e *chainError) Error() string   { return e.msg }
func (e *chainError) Unwrap() []error { return []error{e.kind, e.err} }

// redact removes the RPC URL (and its query-less form) from s.
func redact(rpcURL, s string) string {
	if rpcURL == "" {
		return s
	}
	s = strings.ReplaceAll(s, rpcURL, RedactURL(rpcURL))
	if u, err := url.Parse(rpcURL); err == nil {
		u.RawQuery = ""
		if q := u.String(); q != "" {
			s = strings.ReplaceAll(s, q, RedactURL(rpcURL))
		}
	}
	return s
}

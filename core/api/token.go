package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/authz"
	"github.com/nvm-node/nvm-node/core/chain"
)

// Authorizer decides, on-chain, whether a verified assertion's grantee may
// have a token for its audience (SPEC 3.3). A refusal is an *authz.Denied;
// chain.ErrUnavailable means the chain could not be asked.
type Authorizer interface {
	Authorize(ctx context.Context, a *auth.Assertion) error
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
}

// unauthorized is the reference's plain 401.
func unauthorized(cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Message: "Unauthorized", Cause: cause}
}

// invalidAssertion is the reference's 401 for a refused authorization.
func invalidAssertion(reason string) *Error {
	return &Error{Status: http.StatusUnauthorized, Message: "The 'client_assertion' is invalid: " + reason}
}

// postToken exchanges a client assertion for an access token (SPEC 2.3),
// fixing the reference's holes: the assertion's expiry and replays are
// checked, an unknown audience gets nothing, and the audiences that grant
// data are authorized on-chain before a token exists.
func (s *server) postToken(w http.ResponseWriter, r *http.Request) {
	f, err := readFields(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vals, err := f.requireStrings("client_assertion_type", "client_assertion")
	if err != nil || vals[0] != auth.ClientAssertionType {
		s.fail(w, r, unauthorized(err))
		return
	}
	// A repeat of an assertion within its lifetime gets the token its first
	// exchange got (auth.Verifier.Exchange): authorized once, same expiry.
	token, _, err := s.cfg.Verifier.Exchange(r.Context(), vals[1], s.grantToken)
	var ge grantError
	switch {
	case errors.As(err, &ge):
		s.fail(w, r, ge.err) // the grant's own answer (authorization refused, chain down)
	case err == nil:
		writeJSON(w, http.StatusCreated, tokenResponse{AccessToken: token})
	case errors.Is(err, auth.ErrUnverifiable):
		s.fail(w, r, &Error{Status: http.StatusServiceUnavailable, Message: "the chain could not be asked to check a contract wallet's signature; retry later", Cause: err, RetryAfter: 5})
	case errors.Is(err, auth.ErrReplayQuota):
		s.fail(w, r, replayQuota(err))
	case errors.Is(err, auth.ErrReplayStoreFull):
		s.fail(w, r, &Error{Status: http.StatusServiceUnavailable, Message: "too many assertions in flight; retry later", Cause: err, RetryAfter: 5})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s.fail(w, r, err) // gave up waiting for a concurrent exchange of the same assertion
	default:
		s.fail(w, r, unauthorized(err))
	}
}

// grantError carries grantToken's answer through Exchange, so it is told
// from the verifier's own refusals.
type grantError struct{ err error }

func (e grantError) Error() string { return e.err.Error() }
func (e grantError) Unwrap() error { return e.err }

// replayQuota is the answer to a client holding its share of the replay
// store: only that client is refused, until its assertions expire.
func replayQuota(err error) *Error {
	return &Error{Status: http.StatusTooManyRequests, Message: "too many client assertions from this address; retry later", Cause: err, RetryAfter: 60}
}

// grantToken authorizes a verified assertion's audience on its first
// exchange and signs its token as of at; a repeat only re-signs the same
// token (same jti, same expiry), with no authorization and no side effect.
func (s *server) grantToken(ctx context.Context, a *auth.Assertion, first bool, at time.Time) (string, error) {
	if first {
		switch a.Claims.Audience {
		case "":
			// A plain login: the token grants no data (no audience), as every
			// data endpoint requires its own audience.
		case auth.AudienceAccess, auth.AudienceDownload, auth.AudienceNFTAccess, auth.AudienceExecute, auth.AudienceCompute:
			if s.cfg.Authorizer == nil {
				return "", grantError{invalidAssertion("this node cannot authorize " + a.Claims.Audience + " yet")}
			}
			if err := s.cfg.Authorizer.Authorize(ctx, a); err != nil {
				return "", grantError{authzError(err)}
			}
		default:
			// SPEC 11.1: the reference issues such tokens with no check at all.
			return "", grantError{invalidAssertion("unknown audience " + a.Claims.Audience)}
		}
	}
	token, _, err := s.cfg.Tokens.IssueAt(a, at)
	if err != nil {
		return "", grantError{err}
	}
	return token, nil
}

// authzError maps an authorization failure: a refusal is the reference's 401
// with its reason; an unreachable chain is 503, never a hang or a 500.
func authzError(err error) error {
	var d *authz.Denied
	switch {
	case errors.As(err, &d):
		return invalidAssertion(d.Reason)
	case errors.Is(err, chain.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Message: "the chain is unavailable; retry later", Cause: err, RetryAfter: 5}
	}
	return err
}

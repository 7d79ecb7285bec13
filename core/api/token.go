package api

import (
	"context"
	"errors"
	"net/http"

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
	a, err := s.cfg.Verifier.Verify(r.Context(), vals[1])
	switch {
	case errors.Is(err, auth.ErrUnverifiable):
		s.fail(w, r, &Error{Status: http.StatusServiceUnavailable, Message: "the chain could not be asked to check a contract wallet's signature; retry later", Cause: err, RetryAfter: 5})
		return
	case errors.Is(err, auth.ErrReplayStoreFull):
		s.fail(w, r, &Error{Status: http.StatusServiceUnavailable, Message: "too many assertions in flight; retry later", Cause: err, RetryAfter: 5})
		return
	case err != nil:
		s.fail(w, r, unauthorized(err))
		return
	}
	switch a.Claims.Audience {
	case "":
		// A plain login: the token grants no data (no audience), as every
		// data endpoint requires its own audience.
	case auth.AudienceAccess, auth.AudienceDownload, auth.AudienceNFTAccess, auth.AudienceExecute, auth.AudienceCompute:
		if s.cfg.Authorizer == nil {
			s.fail(w, r, invalidAssertion("this node cannot authorize "+a.Claims.Audience+" yet"))
			return
		}
		if err := s.cfg.Authorizer.Authorize(r.Context(), a); err != nil {
			s.fail(w, r, authzError(err))
			return
		}
	default:
		// SPEC 11.1: the reference issues such tokens with no check at all.
		s.fail(w, r, invalidAssertion("unknown audience "+a.Claims.Audience))
		return
	}
	token, _, err := s.cfg.Tokens.Issue(a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenResponse{AccessToken: token})
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

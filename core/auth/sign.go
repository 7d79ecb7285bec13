package auth

import (
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// assertionHeaderSegment is base64url(`{"alg":"ES256K"}`), the header the SDK
// sends.
var assertionHeaderSegment = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + assertionAlg + `"}`))

// SignAssertion makes a client assertion the way SDK 3.1.2 does, for the
// node's own clients and tests: header {"alg":"ES256K"}, payload exactly as
// given (a JSON object with at least iss, iat and exp), signed by key with
// EIP-712 when the payload has eip712Data and EIP-191 otherwise. The payload
// is not required to name key's address as iss, so tests can build forgeries.
func SignAssertion(key *ecdsa.PrivateKey, payload []byte) (string, error) {
	if key == nil {
		return "", fmt.Errorf("%w: no signing key", ErrConfig)
	}
	raw, err := decodeObject(payload)
	if err != nil {
		return "", fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	iss, _, err := stringClaim(raw["iss"])
	if err != nil {
		return "", fmt.Errorf("%w: claim iss must be a string", ErrMalformed)
	}
	a := Assertion{SigningInput: assertionHeaderSegment + "." + base64.RawURLEncoding.EncodeToString(payload)}
	a.Claims.Issuer = common.HexToAddress(iss)
	if v, ok := raw["eip712Data"]; ok && !isNull(v) {
		if a.Claims.EIP712, err = parseEIP712Data(v); err != nil {
			return "", fmt.Errorf("%w: claim eip712Data: %w", ErrMalformed, err)
		}
	}
	digest := a.Digest()
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		return "", fmt.Errorf("auth: signing assertion: %w", err)
	}
	sig[64] += 27 // personal_sign / eth_signTypedData style v
	return a.SigningInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

package auth

import (
	"fmt"
	"strings"
)

// ClientAssertionType is the only client_assertion_type the token endpoint
// accepts (SPEC 2.3).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AudiencePrefix starts every audience the SDK sends.
const AudiencePrefix = "/api/v1/node/services/"

// Audiences the SDK 3.1.2 puts in grant assertions (SPEC 3.1). Each data
// endpoint requires exactly the audience that was authorized for it (SPEC 11.1).
const (
	AudienceAccess    = AudiencePrefix + "access"
	AudienceDownload  = AudiencePrefix + "download"
	AudienceNFTAccess = AudiencePrefix + "nft-access"
	AudienceExecute   = AudiencePrefix + "execute"
	AudienceCompute   = AudiencePrefix + "compute"
)

const didPrefix = "did:nv:"

// NormalizeDID returns did as "did:nv:" and 64 lower-case hex digits. The
// prefix must be exactly "did:nv:"; the hex may be in any case.
func NormalizeDID(did string) (string, error) {
	rest, ok := strings.CutPrefix(did, didPrefix)
	if !ok || len(rest) != 64 || !isHex(rest) {
		return "", fmt.Errorf("%w: did must be did:nv: followed by 64 hex digits", ErrMalformed)
	}
	return didPrefix + strings.ToLower(rest), nil
}

// NormalizeAgreementID returns id as "0x" and 64 lower-case hex digits. The
// SDK sends agreement ids with 0x in assertions and without it in URLs, so
// both are accepted, in any case. "" and "0x" (the SDK's "no agreement", used
// for NFT-holder access) give "".
func NormalizeAgreementID(id string) (string, error) {
	rest := id
	if len(rest) >= 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X') {
		rest = rest[2:]
	}
	if rest == "" {
		return "", nil
	}
	if len(rest) != 64 || !isHex(rest) {
		return "", fmt.Errorf("%w: agreement id must be 32 bytes of hex", ErrMalformed)
	}
	return "0x" + strings.ToLower(rest), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s)%2 == 0
}

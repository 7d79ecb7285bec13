package asset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Service types the node knows (SPEC 5.2).
const (
	ServiceMetadata      = "metadata"
	ServiceAuthorization = "authorization"
	ServiceAccess        = "access"
	ServiceCompute       = "compute"
	ServiceWorkflow      = "workflow"
	ServiceNFTAccess     = "nft-access"
	ServiceNFTSales      = "nft-sales"
)

// Encryption methods of the authorization service (SPEC 6.1, 6.2).
const (
	MethodPSKRSA   = "PSK-RSA"
	MethodPSKECDSA = "PSK-ECDSA"
)

// DDO is a decoded DDO document. Raw holds the document exactly as received;
// the exported fields are typed views of what the node reads. Fields the node
// does not read stay only in the raw bytes, so they can have any shape.
//
// A DDO is built by [DecodeDDO] or [ReadDDO], which check it; do not build
// one by hand. Treat it as read-only: it may be cached and shared.
type DDO struct {
	raw json.RawMessage

	Context   string      `json:"@context"`
	ID        DID         `json:"id"`
	DIDSeed   string      `json:"didSeed"`
	Created   string      `json:"created"`
	Updated   string      `json:"updated"`
	PublicKey []PublicKey `json:"publicKey"`
	Services  []Service   `json:"service"`
	Proof     *Proof      `json:"proof"`
	NVM       *NVMConfig  `json:"_nvm"`
}

// PublicKey is an entry of the DDO's publicKey list; Owner is the
// publisher's address.
type PublicKey struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Owner string `json:"owner"`
}

// Proof is the publisher's integrity proof; Creator is the publisher's
// address.
type Proof struct {
	Type           string `json:"type"`
	Created        string `json:"created"`
	Creator        string `json:"creator"`
	SignatureValue string `json:"signatureValue"`
}

// NVMConfig is the `_nvm` section the marketplace keeps.
type NVMConfig struct {
	UserID string `json:"userId"`
	AppID  string `json:"appId"`
}

// Service is one entry of the DDO's service list. Look services up by Type or
// Index, never by position in the list.
type Service struct {
	Type            string     `json:"type"`
	Index           int        `json:"index"`
	ServiceEndpoint string     `json:"serviceEndpoint"`
	TemplateID      string     `json:"templateId"`
	Attributes      Attributes `json:"attributes"`
}

// Attributes of a service. Which fields are set depends on the service type:
// EncryptedFiles on `metadata`, ServiceAgreementTemplate on agreement
// services.
type Attributes struct {
	Main                     Main               `json:"main"`
	EncryptedFiles           string             `json:"encryptedFiles"`
	UserID                   string             `json:"userId"`
	AdditionalInformation    json.RawMessage    `json:"additionalInformation"`
	ServiceAgreementTemplate *AgreementTemplate `json:"serviceAgreementTemplate"`
}

// Main is `attributes.main`, the union of the fields the node reads in the
// main attributes of every service type.
type Main struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Creator string `json:"creator"`
	// Files lists the asset's files without their URLs (metadata service).
	Files []File `json:"files"`
	// ERCType is 721 or 1155 on NFT assets.
	ERCType Scalar `json:"ercType"`
	NFTType string `json:"nftType"`
	// Price and Timeout belong to agreement services.
	Price   Scalar `json:"price"`
	Timeout Scalar `json:"timeout"`
	// NFTAttributes belong to nft-access and nft-sales services.
	NFTAttributes *NFTAttributes `json:"nftAttributes"`
	// Service is the encryption method on the authorization service (a
	// string there); other services may carry an object under that name.
	Service json.RawMessage `json:"service"`
	// PublicKey is the key file lists are encrypted to (authorization).
	PublicKey string `json:"publicKey"`
	// Workflow, Algorithm and WebService are kept raw for the services that
	// interpret them.
	Workflow   json.RawMessage `json:"workflow"`
	Algorithm  json.RawMessage `json:"algorithm"`
	WebService json.RawMessage `json:"webService"`
}

// File describes one file of an asset. URL is empty in published DDOs: the
// URLs travel encrypted in [Attributes.EncryptedFiles].
type File struct {
	Index         int    `json:"index"`
	ContentType   string `json:"contentType"`
	URL           string `json:"url"`
	Name          string `json:"name"`
	ContentLength Scalar `json:"contentLength"`
	Checksum      string `json:"checksum"`
	ChecksumType  string `json:"checksumType"`
	Encoding      string `json:"encoding"`
	Compression   string `json:"compression"`
	// Encryption names how the stored bytes are encrypted: "nvm-aead-v1"
	// (package filecrypt), "aes-256-salted" (legacy uploads), "" or "dtp".
	Encryption string `json:"encryption"`
	// Password decrypts the stored bytes. It is set only in the decrypted
	// file list (which is sealed to the node, like the URL) and is kept out
	// of logs, fmt output and JSON encodings.
	Password Secret `json:"password,omitempty"`
}

// Secret is a string that prints, logs and encodes as "[redacted]"; Reveal
// returns it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer without the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString implements fmt.GoStringer without the secret.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer without the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler without the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// NFTAttributes are the NFT settings of nft-access and nft-sales services.
// Amounts are big integers serialised as decimal strings (SPEC 11.25).
type NFTAttributes struct {
	Amount             Scalar `json:"amount"`
	NFTTransfer        Flag   `json:"nftTransfer"`
	IsSubscription     Flag   `json:"isSubscription"`
	Duration           Scalar `json:"duration"`
	TokenID            Scalar `json:"tokenId"`
	MaxCreditsToCharge Scalar `json:"maxCreditsToCharge"`
	MinCreditsToCharge Scalar `json:"minCreditsToCharge"`
	MinCreditsRequired Scalar `json:"minCreditsRequired"`
}

// AgreementTemplate is `attributes.serviceAgreementTemplate`.
type AgreementTemplate struct {
	ContractName     string      `json:"contractName"`
	FulfillmentOrder []string    `json:"fulfillmentOrder"`
	Conditions       []Condition `json:"conditions"`
}

// Condition is one condition of an agreement template.
type Condition struct {
	Name         string  `json:"name"`
	ContractName string  `json:"contractName"`
	FunctionName string  `json:"functionName"`
	Timelock     Scalar  `json:"timelock"`
	Timeout      Scalar  `json:"timeout"`
	Parameters   []Param `json:"parameters"`
}

// Param is one parameter of a condition.
type Param struct {
	Name  string     `json:"name"`
	Type  string     `json:"type"`
	Value ParamValue `json:"value"`
}

// Raw returns the document exactly as it was decoded. The slice is shared:
// do not modify it.
func (d *DDO) Raw() json.RawMessage { return d.raw }

// MarshalJSON writes the document exactly as it was decoded, unknown fields
// included. (A value receiver, so that a DDO marshals the same by value and
// by pointer.)
func (d DDO) MarshalJSON() ([]byte, error) {
	if d.raw == nil {
		return []byte("null"), nil
	}
	return d.raw, nil
}

// ServiceByType returns the first service of type t.
func (d *DDO) ServiceByType(t string) (*Service, error) {
	for i := range d.Services {
		if d.Services[i].Type == t {
			return &d.Services[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no %q service", ErrNoService, d.ID, t)
}

// ServiceByIndex returns the service whose index field is i.
func (d *DDO) ServiceByIndex(i int) (*Service, error) {
	for k := range d.Services {
		if d.Services[k].Index == i {
			return &d.Services[k], nil
		}
	}
	return nil, fmt.Errorf("%w: %s has no service with index %d", ErrNoService, d.ID, i)
}

// Metadata returns the `metadata` service's attributes.
func (d *DDO) Metadata() (*Attributes, error) {
	s, err := d.ServiceByType(ServiceMetadata)
	if err != nil {
		return nil, err
	}
	return &s.Attributes, nil
}

// Files returns the metadata service's file list (without URLs).
func (d *DDO) Files() ([]File, error) {
	m, err := d.Metadata()
	if err != nil {
		return nil, err
	}
	return m.Main.Files, nil
}

// File returns the file at position i of the metadata file list, which is
// how downloads address files (SPEC 2.5 step 2).
func (d *DDO) File(i int) (*File, error) {
	files, err := d.Files()
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(files) {
		return nil, fmt.Errorf("%w: %s has %d files, no file %d", ErrNoFile, d.ID, len(files), i)
	}
	return &files[i], nil
}

// EncryptedFiles returns the ciphertext of the file list with URLs
// (`metadata.attributes.encryptedFiles`).
func (d *DDO) EncryptedFiles() (string, error) {
	m, err := d.Metadata()
	if err != nil {
		return "", err
	}
	if m.EncryptedFiles == "" {
		return "", fmt.Errorf("%w: %s has no encryptedFiles", ErrNoFile, d.ID)
	}
	return m.EncryptedFiles, nil
}

// Authorization returns the `authorization` service.
func (d *DDO) Authorization() (*Service, error) { return d.ServiceByType(ServiceAuthorization) }

// DecryptionMethod returns the encryption method the authorization service
// declares: PSK-RSA or PSK-ECDSA. An authorization service that names no
// method means PSK-RSA, the SDK's default; any other value is an error.
//
// The reference node ignores this and always decrypts with PSK-RSA (SPEC
// 2.5 step 4); callers decide whether to follow the declaration.
func (d *DDO) DecryptionMethod() (string, error) {
	s, err := d.Authorization()
	if err != nil {
		return "", err
	}
	raw := s.Attributes.Main.Service
	if isNull(raw) {
		return MethodPSKRSA, nil
	}
	var m string
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("%w: authorization attributes.main.service must be a string", ErrInvalidDDO)
	}
	switch m {
	case MethodPSKRSA, MethodPSKECDSA:
		return m, nil
	}
	return "", fmt.Errorf("%w: unknown authorization method %s", ErrInvalidDDO, quoteShort(m))
}

// Owner returns the publisher's address: the owner of the first public key,
// or else the proof's creator. The on-chain DID owner may differ (ownership
// can be transferred); this is what the document claims.
func (d *DDO) Owner() (common.Address, error) {
	if len(d.PublicKey) > 0 && d.PublicKey[0].Owner != "" {
		return parseAddress("publicKey[0].owner", d.PublicKey[0].Owner)
	}
	return d.Creator()
}

// Creator returns the proof's creator address.
func (d *DDO) Creator() (common.Address, error) {
	if d.Proof == nil || d.Proof.Creator == "" {
		return common.Address{}, fmt.Errorf("%w: %s has no proof.creator", ErrInvalidDDO, d.ID)
	}
	return parseAddress("proof.creator", d.Proof.Creator)
}

func parseAddress(field, s string) (common.Address, error) {
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("%w: %s %s is not an address", ErrInvalidDDO, field, quoteShort(s))
	}
	return common.HexToAddress(s), nil
}

// ERCType returns the metadata service's ercType (721 or 1155), or 0 when the
// asset is not an NFT.
func (d *DDO) ERCType() (int, error) {
	m, err := d.Metadata()
	if err != nil {
		return 0, err
	}
	if m.Main.ERCType == "" {
		return 0, nil
	}
	switch m.Main.ERCType {
	case "721":
		return 721, nil
	case "1155":
		return 1155, nil
	}
	return 0, fmt.Errorf("%w: ercType %s is neither 721 nor 1155", ErrInvalidDDO, quoteShort(string(m.Main.ERCType)))
}

// NFTType returns the metadata service's nftType (e.g. nft1155-credit).
func (d *DDO) NFTType() string {
	m, err := d.Metadata()
	if err != nil {
		return ""
	}
	return m.Main.NFTType
}

// ConditionParam returns parameter paramName of condition conditionName in
// the first service of type serviceType.
func (d *DDO) ConditionParam(serviceType, conditionName, paramName string) (ParamValue, error) {
	s, err := d.ServiceByType(serviceType)
	if err != nil {
		return ParamValue{}, err
	}
	return s.ConditionParam(conditionName, paramName)
}

// Condition returns the condition called name (e.g. "lockPayment").
func (s *Service) Condition(name string) (*Condition, error) {
	t := s.Attributes.ServiceAgreementTemplate
	if t == nil {
		return nil, fmt.Errorf("%w: %q service %d has no serviceAgreementTemplate", ErrNoCondition, s.Type, s.Index)
	}
	for i := range t.Conditions {
		if t.Conditions[i].Name == name {
			return &t.Conditions[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %q service %d has no condition %q", ErrNoCondition, s.Type, s.Index, name)
}

// ConditionParam returns parameter paramName of condition conditionName
// (e.g. "escrowPayment", "_amounts").
func (s *Service) ConditionParam(conditionName, paramName string) (ParamValue, error) {
	c, err := s.Condition(conditionName)
	if err != nil {
		return ParamValue{}, err
	}
	for _, p := range c.Parameters {
		if p.Name == paramName {
			return p.Value, nil
		}
	}
	return ParamValue{}, fmt.Errorf("%w: condition %q of %q service %d has no parameter %q", ErrNoCondition, conditionName, s.Type, s.Index, paramName)
}

// Scalar is a JSON string or number kept as text. DDOs carry big integers as
// decimal strings, but some publishers wrote plain numbers; both decode to the
// same Scalar. An absent or null value is "".
type Scalar string

// UnmarshalJSON accepts a string, a number or null.
func (s *Scalar) UnmarshalJSON(b []byte) error {
	switch {
	case isNull(b):
		*s = ""
	case b[0] == '"':
		v, err := unquote(b)
		if err != nil {
			return err
		}
		*s = Scalar(v)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*s = Scalar(b)
	default:
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Scalar]()}
	}
	return nil
}

// BigInt reads s as a non-negative integer: decimal, 0x-prefixed hex, or a
// JSON number with an integral value (1e18). An empty Scalar is an error.
func (s Scalar) BigInt() (*big.Int, error) {
	v := string(s)
	if v == "" {
		return nil, fmt.Errorf("%w: missing integer", ErrInvalidDDO)
	}
	if len(v) > 100 {
		return nil, fmt.Errorf("%w: integer %s is too long", ErrInvalidDDO, quoteShort(v))
	}
	var n *big.Int
	var ok bool
	switch {
	case strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X"):
		n, ok = new(big.Int).SetString(v[2:], 16)
	case strings.ContainsAny(v, ".eE"):
		// Bound the exponent first: big.ParseFloat would otherwise spend
		// minutes on "1e999999999", and no uint256 needs more than 78 digits.
		if i := strings.IndexAny(v, "eE"); i >= 0 {
			if e, err := strconv.Atoi(v[i+1:]); err != nil || e > 100 || e < -100 {
				return nil, fmt.Errorf("%w: %s is not a uint256", ErrInvalidDDO, quoteShort(v))
			}
		}
		f, _, err := big.ParseFloat(v, 10, 256, big.ToNearestEven)
		if err == nil && f.IsInt() {
			n, _ = f.Int(nil)
			ok = true
		}
	default:
		n, ok = new(big.Int).SetString(v, 10)
	}
	if !ok || n.Sign() < 0 || n.BitLen() > 256 {
		return nil, fmt.Errorf("%w: %s is not a uint256", ErrInvalidDDO, quoteShort(v))
	}
	return n, nil
}

// Flag is a boolean that publishers write as true/false or as the strings
// "true"/"false" (any case, SPEC 4.8).
type Flag bool

// UnmarshalJSON accepts a boolean, "true"/"false" in any case, or null
// (false).
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch {
	case isNull(b):
		*f = false
		return nil
	case string(b) == "true" || string(b) == "false":
		*f = string(b) == "true"
		return nil
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		switch strings.ToLower(v) {
		case "true":
			*f = true
			return nil
		case "false", "":
			*f = false
			return nil
		}
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Flag]()}
}

// ParamValue is the value of a condition parameter: a string, a number, a
// boolean, a list of strings or numbers, or nothing. DIDs appear as hex
// without 0x and amounts as decimal strings.
type ParamValue struct {
	raw json.RawMessage
}

// UnmarshalJSON accepts the shapes listed on [ParamValue]; objects and nested
// lists are errors.
func (p *ParamValue) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		p.raw = nil
		return nil
	}
	switch b[0] {
	case '"', 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	case '[':
		if kind := badListItem(b); kind != "" {
			return &json.UnmarshalTypeError{Value: "array of " + kind, Type: reflect.TypeFor[[]string]()}
		}
	default:
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[string]()}
	}
	p.raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes the value as decoded (null when absent).
func (p ParamValue) MarshalJSON() ([]byte, error) {
	if p.raw == nil {
		return []byte("null"), nil
	}
	return p.raw, nil
}

// IsSet reports whether the parameter has a non-null value.
func (p ParamValue) IsSet() bool { return p.raw != nil }

// String returns a single value as text: a string as is, a number as its
// literal, a boolean as "true"/"false", an absent value as "". A list is an
// error.
func (p ParamValue) String() (string, error) {
	if p.raw == nil {
		return "", nil
	}
	switch p.raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(p.raw, &s)
		return s, err
	case '[':
		return "", fmt.Errorf("%w: parameter is a list, want a single value", ErrInvalidDDO)
	}
	return string(p.raw), nil
}

// Strings returns a list value as text items (numbers as their literals). An
// absent value is an empty list; a single value is an error.
func (p ParamValue) Strings() ([]string, error) {
	if p.raw == nil {
		return nil, nil
	}
	if p.raw[0] != '[' {
		return nil, fmt.Errorf("%w: parameter is a single value, want a list", ErrInvalidDDO)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(p.raw, &items); err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, it := range items {
		if it[0] == '"' {
			if err := json.Unmarshal(it, &out[i]); err != nil {
				return nil, err
			}
		} else {
			out[i] = string(it)
		}
	}
	return out, nil
}

// Address returns a single value as an address.
func (p ParamValue) Address() (common.Address, error) {
	s, err := p.String()
	if err != nil {
		return common.Address{}, err
	}
	return parseAddress("parameter", s)
}

// BigInts returns a list value as uint256 values (e.g. `_amounts`).
func (p ParamValue) BigInts() ([]*big.Int, error) {
	items, err := p.Strings()
	if err != nil {
		return nil, err
	}
	out := make([]*big.Int, len(items))
	for i, s := range items {
		if out[i], err = Scalar(s).BigInt(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Addresses returns a list value as addresses (e.g. `_receivers`).
func (p ParamValue) Addresses() ([]common.Address, error) {
	items, err := p.Strings()
	if err != nil {
		return nil, err
	}
	out := make([]common.Address, len(items))
	for i, s := range items {
		if out[i], err = parseAddress("parameter", s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// unquote decodes a JSON string literal, without a second validation pass
// when it has no escapes (the decoder has already checked it).
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	var v string
	err := json.Unmarshal(b, &v)
	return v, err
}

// badListItem returns the kind of the first item of the JSON array b that
// is not a string or number, or "". b has been validated by the decoder, so
// a scan for items that open an object, an array or a literal is enough.
func badListItem(b []byte) string {
	depth, inString, escaped, expectItem := 0, false, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		if expectItem {
			expectItem = false
			switch {
			case c == '"', c == '-', c >= '0' && c <= '9':
			case c == ']': // empty array
			default:
				return jsonKind([]byte{c})
			}
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth == 1 {
				expectItem = true
			}
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				expectItem = true
			}
		}
	}
	return ""
}

func isNull(b []byte) bool { return len(b) == 0 || string(b) == "null" }

// jsonKind names the kind of the JSON value b starts, for error messages.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

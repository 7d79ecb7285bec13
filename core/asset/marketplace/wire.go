package marketplace

import "encoding/json"

// API paths, as the SDK builds them (S:src/services/metadata/MetadataService.ts).
const (
	// DDOPath is the DDO collection: POST to create, GET to list,
	// GET/PUT/DELETE DDOPath + "/" + did for one DDO.
	DDOPath = "/api/v1/metadata/assets/ddo"
	// QueryPath is the DDO search.
	QueryPath = DDOPath + "/query"
	// ProfileByAddressPath is followed by an address.
	ProfileByAddressPath = "/api/v1/metadata/profiles/address/"
	// LoginPath exchanges a client assertion for a marketplace token.
	LoginPath = "/api/v1/auth/login"
)

// Defaults of the reference marketplace's search (its QueryBodyDDOdto).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// QueryRequest is the body of a DDO search, as the SDK's SearchQuery sends
// it. Query is an Elasticsearch query object; Offset is the page size and
// Page starts at 1.
type QueryRequest struct {
	Query        json.RawMessage `json:"query,omitempty"`
	Text         string          `json:"text,omitempty"`
	Offset       int             `json:"offset,omitempty"`
	Page         int             `json:"page,omitempty"`
	Sort         json.RawMessage `json:"sort,omitempty"`
	ShowUnlisted bool            `json:"show_unlisted,omitempty"`
	AppID        string          `json:"appId,omitempty"`
}

// QueryResponse is a page of search results.
type QueryResponse struct {
	Results      []json.RawMessage `json:"results"`
	Page         int               `json:"page"`
	TotalPages   int               `json:"total_pages"`
	TotalResults TotalResults      `json:"total_results"`
}

// TotalResults counts the matches; Relation is "eq" when Value is exact.
type TotalResults struct {
	Value    int    `json:"value"`
	Relation string `json:"relation"`
}

// Profile is a marketplace user profile; the node reads UserID.
type Profile struct {
	UserID    string   `json:"userId"`
	Nickname  string   `json:"nickname,omitempty"`
	IsListed  bool     `json:"isListed"`
	State     string   `json:"state,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

// ErrorBody is the error shape of the reference services.
type ErrorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error,omitempty"`
}

package client

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/chain"
)

// File is one file of an asset: where the node will fetch it.
type File struct {
	URL         string `json:"url"`
	Name        string `json:"name,omitempty"`
	ContentType string `json:"contentType"`
	// Encryption and Password describe a file the node encrypted at upload
	// (Uploaded.Password): the node decrypts it as it serves it. The file
	// list is sealed for the node, so the password stays as private as the
	// URL.
	Encryption string `json:"encryption,omitempty"`
	Password   string `json:"password,omitempty"`
}

// AccessAsset describes an asset sold through an access agreement.
type AccessAsset struct {
	Name   string
	Author string
	Files  []File
	// Price: amounts to receivers, in Token (zero address: ether).
	Price chain.Price
}

// PublishAccess registers a DID on chain with the node as provider, seals the
// file list for the node, and stores the DDO in the node's metadata store,
// as the SDK's publish does. It returns the DID.
func (c *Client) PublishAccess(ctx context.Context, key *ecdsa.PrivateKey, a AccessAsset) (common.Hash, error) {
	if err := a.Price.Validate(); err != nil {
		return common.Hash{}, err
	}
	list := make([]map[string]any, len(a.Files))
	for i, f := range a.Files {
		list[i] = map[string]any{"index": i, "url": f.URL, "name": f.Name, "contentType": f.ContentType}
		if f.Password != "" {
			list[i]["encryption"], list[i]["password"] = f.Encryption, f.Password
		}
	}
	plain, _ := json.Marshal(list)
	sealed, err := c.Encrypt(ctx, plain)
	if err != nil {
		return common.Hash{}, fmt.Errorf("sealing the file list: %w", err)
	}
	did, _, err := c.Chain.RegisterDID(ctx, c.Chain.NewSender(key), NewSeed(), crypto.Keccak256Hash(plain),
		[]common.Address{c.Provider()}, c.NodeURL+"/api/v1/metadata/assets/ddo")
	if err != nil {
		return common.Hash{}, fmt.Errorf("registering the DID: %w", err)
	}
	doc, err := c.accessDDO(did, crypto.PubkeyToAddress(key.PublicKey), a, sealed)
	if err != nil {
		return common.Hash{}, err
	}
	token, err := c.Login(ctx, key)
	if err != nil {
		return common.Hash{}, fmt.Errorf("logging in to the metadata store: %w", err)
	}
	if err := c.post(ctx, "/api/v1/metadata/assets/ddo", "application/json", doc, token, nil); err != nil {
		return common.Hash{}, fmt.Errorf("storing the DDO: %w", err)
	}
	return did, nil
}

// DIDString is the did:nv: form of a DID.
func DIDString(did common.Hash) string { return "did:nv:" + strings.TrimPrefix(did.Hex(), "0x") }

// accessDDO builds a DDO with metadata, authorization and access services in
// the SDK's shape (SPEC 5.2).
func (c *Client) accessDDO(did common.Hash, owner common.Address, a AccessAsset, sealed string) ([]byte, error) {
	id := DIDString(did)
	didHex := strings.TrimPrefix(did.Hex(), "0x")
	now := time.Now().UTC().Format(time.RFC3339)
	amounts, receivers := make([]string, len(a.Price.Amounts)), make([]string, len(a.Price.Receivers))
	for i := range a.Price.Amounts {
		amounts[i], receivers[i] = a.Price.Amounts[i].String(), a.Price.Receivers[i].Hex()
	}
	escrow, err := c.Chain.Contracts().Address("EscrowPaymentCondition")
	if err != nil {
		return nil, err
	}
	template, err := c.Chain.Contracts().Address("AccessTemplate")
	if err != nil {
		return nil, err
	}
	param := func(name, typ string, v any) map[string]any {
		return map[string]any{"name": name, "type": typ, "value": v}
	}
	files := make([]map[string]any, len(a.Files))
	for i, f := range a.Files {
		files[i] = map[string]any{"index": i, "contentType": f.ContentType, "name": f.Name}
	}
	doc := map[string]any{
		"@context":       "https://w3id.org/did/v1",
		"id":             id,
		"created":        now,
		"updated":        now,
		"publicKey":      []any{map[string]any{"id": id, "type": "EthereumECDSAKey", "owner": owner.Hex()}},
		"authentication": []any{map[string]any{"type": "RsaSignatureAuthentication2018", "publicKey": id}},
		"proof":          map[string]any{"type": "DDOIntegritySignature", "created": now, "creator": owner.Hex()},
		"service": []any{
			map[string]any{"type": "metadata", "index": 0, "serviceEndpoint": c.NodeURL + "/api/v1/metadata/assets/ddo/" + id,
				"attributes": map[string]any{
					"main":           map[string]any{"name": a.Name, "type": "dataset", "author": a.Author, "dateCreated": now, "files": files},
					"encryptedFiles": sealed,
				}},
			map[string]any{"type": "authorization", "index": 1, "serviceEndpoint": c.NodeURL,
				"attributes": map[string]any{"main": map[string]any{"publicKey": c.Info.RSAPublicKey, "service": "PSK-RSA", "threshold": 0}}},
			map[string]any{"type": "access", "index": 2, "serviceEndpoint": c.NodeURL + "/api/v1/node/services/access",
				"templateId": template.Hex(),
				"attributes": map[string]any{
					"main": map[string]any{"name": "dataAssetAccessServiceAgreement", "creator": owner.Hex(), "datePublished": now, "timeout": 86400},
					"serviceAgreementTemplate": map[string]any{
						"contractName": "AccessTemplate",
						"conditions": []any{
							map[string]any{"name": "lockPayment", "contractName": "LockPaymentCondition", "functionName": "fulfill", "parameters": []any{
								param("_did", "bytes32", didHex), param("_rewardAddress", "address", escrow.Hex()),
								param("_tokenAddress", "address", a.Price.Token.Hex()), param("_amounts", "uint256[]", amounts),
								param("_receivers", "address[]", receivers)}},
							map[string]any{"name": "access", "contractName": "AccessCondition", "functionName": "fulfill", "parameters": []any{
								param("_documentId", "bytes32", didHex), param("_grantee", "address", "")}},
							map[string]any{"name": "escrowPayment", "contractName": "EscrowPaymentCondition", "functionName": "fulfill", "parameters": []any{
								param("_did", "bytes32", didHex), param("_amounts", "uint256[]", amounts), param("_receivers", "address[]", receivers),
								param("_sender", "address", ""), param("_tokenAddress", "address", a.Price.Token.Hex()),
								param("_lockCondition", "bytes32", ""), param("_releaseCondition", "bytes32", "")}},
						},
					},
				}},
		},
	}
	return json.Marshal(doc)
}

// OrderAccess creates an access agreement for did and pays price into escrow
// from key's account; it returns the agreement id.
func (c *Client) OrderAccess(ctx context.Context, key *ecdsa.PrivateKey, did common.Hash, price chain.Price) (common.Hash, error) {
	ag, err := c.Chain.OrderAccess(ctx, c.Chain.NewSender(key), NewSeed(), did, price)
	if err != nil {
		return common.Hash{}, err
	}
	return ag.ID, nil
}

// AccessPath is the download path of file index under an access agreement,
// with the agreement id without 0x as the SDK sends it.
func AccessPath(agreement common.Hash, index int) string {
	return fmt.Sprintf("/api/v1/node/services/access/%s/%d", strings.TrimPrefix(agreement.Hex(), "0x"), index)
}

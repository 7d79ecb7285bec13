package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/contracts"
)

// publishNFT registers a mintable ERC-1155 DID (editions minted to the
// publisher, the node as provider) and stores its DDO with nft-sales and
// nft-access services naming that NFT.
func (e *e2e) publishNFT(price chain.Price, nftType string) (common.Hash, common.Address) {
	t, ctx := e.t, context.Background()
	erc721 := strings.HasPrefix(nftType, "nft721")
	name, register := contracts.NFT1155Upgradeable, e.client.RegisterMintableDID
	if erc721 {
		name, register = contracts.NFT721Upgradeable, e.client.RegisterMintableDID721
	}
	nft, err := e.client.Contracts().Address(name)
	if err != nil {
		t.Fatal(err)
	}
	did, _, err := register(ctx, e.client.NewSender(e.publisher.Key), chain.MintableDID{
		Seed: randomHash(), Checksum: randomHash(), Providers: []common.Address{e.provider},
		URL: e.node.url, Cap: big.NewInt(10), Mint: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal([]map[string]any{{"index": 0, "contentType": "text/plain", "name": "nft.txt", "url": e.files.URL + "/nft.txt"}})
	sealed := e.post("/api/v1/node/services/encrypt", "application/json", fmt.Sprintf(`{"method":"PSK-RSA","message":%q}`, list), "")["hash"].(string)
	raw, err := os.ReadFile("../asset/testdata/ddo-nft1155.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	didHex := strings.TrimPrefix(did.Hex(), "0x")
	doc["id"] = "did:nv:" + didHex
	doc["publicKey"] = []any{map[string]any{"id": doc["id"], "type": "EthereumECDSAKey", "owner": e.publisher.Address.Hex()}}
	doc["proof"].(map[string]any)["creator"] = e.publisher.Address.Hex()
	var amounts, receivers []string
	for i := range price.Amounts {
		amounts, receivers = append(amounts, price.Amounts[i].String()), append(receivers, price.Receivers[i].Hex())
	}
	for _, s := range doc["service"].([]any) {
		svc := s.(map[string]any)
		attrs := svc["attributes"].(map[string]any)
		if svc["type"] == "metadata" {
			attrs["encryptedFiles"] = sealed
			attrs["main"].(map[string]any)["nftType"] = nftType
			if erc721 {
				attrs["main"].(map[string]any)["ercType"] = 721
			}
			continue
		}
		tmpl, ok := attrs["serviceAgreementTemplate"].(map[string]any)
		if !ok {
			continue
		}
		for _, c := range tmpl["conditions"].([]any) {
			for _, p := range c.(map[string]any)["parameters"].([]any) {
				param := p.(map[string]any)
				switch param["name"] {
				case "_did", "_documentId":
					param["value"] = didHex
				case "_amounts":
					param["value"] = amounts
				case "_receivers":
					param["value"] = receivers
				case "_tokenAddress":
					param["value"] = price.Token.Hex()
				case "_nftHolder":
					param["value"] = e.publisher.Address.Hex()
				case "_contractAddress":
					param["value"] = nft.Hex()
				case "_nftTransfer":
					param["value"] = "true"
				case "_numberNfts":
					param["value"] = "1"
				}
			}
		}
	}
	ddo, _ := json.Marshal(doc)
	login := e.post("/api/v1/auth/login", "application/x-www-form-urlencoded", string(assertionForm(t, e.publisher.Key, nil)), "")
	e.post("/api/v1/metadata/assets/ddo", "application/json", string(ddo), login["access_token"].(string))
	return did, nft
}

func TestEndToEndNFTSaleAndAccess(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	price := chain.Price{Amounts: []*big.Int{big.NewInt(3e15)}, Receivers: []common.Address{e.publisher.Address}}
	did, nft := e.publishNFT(price, "nft1155")
	tokenID := new(big.Int).SetBytes(did[:])

	// Without an NFT the consumer gets no nft-access token.
	if code, body := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": "0x", "did": didClaim(did)}); code != 401 {
		t.Fatalf("nft-access without an NFT: %d %v", code, body)
	}

	sale := chain.NFTSale{DID: did, Holder: e.publisher.Address, Receiver: e.consumer.Address, Amount: big.NewInt(2),
		Transfer: true, Price: price, NFTContract: nft}
	ag, err := e.client.OrderNFT(ctx, e.client.NewSender(e.consumer.Key), randomHash(), sale)
	if err != nil {
		t.Fatal(err)
	}
	transfer := func(amount string) (int, map[string]any) {
		body := fmt.Sprintf(`{"agreementId":%q,"nftHolder":%q,"nftReceiver":%q,"nftAmount":%q,"nftType":1155,"serviceIndex":-1}`,
			strings.TrimPrefix(ag.ID.Hex(), "0x"), e.publisher.Address.Hex(), e.consumer.Address.Hex(), amount)
		return e.postStatus("/api/v1/node/services/nft-transfer", "application/json", body, "")
	}
	if code, body := transfer("3"); code != 403 {
		t.Fatalf("another amount than the agreement's: %d %v", code, body)
	}
	before, _ := e.client.Balance(ctx, e.publisher.Address)
	if code, body := transfer("2"); code != 201 {
		t.Fatalf("nft-transfer: %d %v", code, body)
	}
	if got, err := e.client.NFT1155Balance(ctx, nft, e.consumer.Address, tokenID); err != nil || got.Int64() != 2 {
		t.Fatalf("buyer holds %v editions (%v), want 2", got, err)
	}
	after, _ := e.client.Balance(ctx, e.publisher.Address)
	if got := new(big.Int).Sub(after, before); got.Cmp(price.Amounts[0]) != 0 {
		t.Fatalf("publisher received %s, want %s", got, price.Amounts[0])
	}
	// A retry completes without sending anything again.
	nonce, _ := e.client.NonceAt(ctx, e.provider)
	if code, body := transfer("2"); code != 201 {
		t.Fatalf("retried nft-transfer: %d %v", code, body)
	}
	if again, _ := e.client.NonceAt(ctx, e.provider); again != nonce {
		t.Fatal("a retried transfer sent transactions again")
	}
	missing := `{"agreementId":"` + strings.Repeat("ab", 32) + `","nftReceiver":"` + e.consumer.Address.Hex() + `","nftAmount":"1"}`
	if code, body := e.postStatus("/api/v1/node/services/nft-transfer", "application/json", missing, ""); code != 404 {
		t.Fatalf("unknown agreement: %d %v", code, body)
	}
	if code, body := e.postStatus("/api/v1/node/services/nft-transfer", "application/json", "", ""); code != 400 || !strings.Contains(fmt.Sprint(body["message"]), "must be a string") {
		t.Fatalf("no body: %d %v", code, body)
	}

	// Now a holder: an nft-access token, and the file through /nft-access and /download.
	code, tok := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": "0x", "did": didClaim(did)})
	if code != 201 {
		t.Fatalf("nft-access token as a holder: %d %v", code, tok)
	}
	for _, path := range []string{"/api/v1/node/services/nft-access/0x/0", "/api/v1/node/services/download/0"} {
		if code, body := e.download(path, tok["access_token"].(string)); code != 200 || body != e.content {
			t.Fatalf("%s: %d", path, code)
		}
	}
}

// TestEndToEndNFTCredits: SPEC 11.4, the reference burns credits on every
// token request; here each file served costs the asset's credits, tokens
// cost nothing, the owner pays nothing, and too few credits get 402.
func TestEndToEndNFTCredits(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	price := chain.Price{Amounts: []*big.Int{big.NewInt(1e15)}, Receivers: []common.Address{e.publisher.Address}}
	did, nft := e.publishNFT(price, "nft1155-credit") // a use costs 2 credits (nftAttributes amount)
	tokenID := new(big.Int).SetBytes(did[:])
	sale := chain.NFTSale{DID: did, Holder: e.publisher.Address, Receiver: e.consumer.Address, Amount: big.NewInt(5),
		Transfer: true, Price: price, NFTContract: nft}
	ag, err := e.client.OrderNFT(ctx, e.client.NewSender(e.consumer.Key), randomHash(), sale)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"agreementId":%q,"nftReceiver":%q,"nftAmount":"5"}`, ag.ID.Hex(), e.consumer.Address.Hex())
	if code, resp := e.postStatus("/api/v1/node/services/nft-transfer", "application/json", body, ""); code != 201 {
		t.Fatalf("nft-transfer: %d %v", code, resp)
	}
	credits := func() int64 {
		b, err := e.client.NFT1155Balance(ctx, nft, e.consumer.Address, tokenID)
		if err != nil {
			t.Fatal(err)
		}
		return b.Int64()
	}
	newToken := func() string {
		code, tok := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": "0x", "did": didClaim(did)})
		if code != 201 {
			t.Fatalf("nft-access token: %d %v", code, tok)
		}
		return tok["access_token"].(string)
	}
	tok := newToken()
	newToken()
	if got := credits(); got != 5 {
		t.Fatalf("token requests burned credits: %d left of 5", got)
	}
	// A download is charged once per token and file version: repeating it
	// (a retry, a resume) with the same token costs nothing more.
	for want := int64(3); want >= 1; want -= 2 {
		for range 2 {
			if code, body := e.download("/api/v1/node/services/nft-access/0x/0", tok); code != 200 || body != e.content {
				t.Fatalf("download: %d", code)
			}
			if got := credits(); got != want {
				t.Fatalf("after a download %d credits left; want %d", got, want)
			}
		}
		tok = newToken()
	}
	if code, body := e.download("/api/v1/node/services/nft-access/0x/0", tok); code != 402 || !strings.Contains(body, "credits") {
		t.Fatalf("download without enough credits: %d %s", code, body)
	}
	if got := credits(); got != 1 {
		t.Fatalf("a refused download burned credits: %d left", got)
	}
}

// TestEndToEndNFTAgreementAndERC721: the nft-access agreement path for
// ERC-1155 (SPEC 4.6: the reference recurses forever) and the holder path for
// an ERC-721 asset bought through nft-transfer.
func TestEndToEndNFTAgreementAndERC721(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	price := chain.Price{Amounts: []*big.Int{big.NewInt(1e15)}, Receivers: []common.Address{e.publisher.Address}}
	consumer := e.client.NewSender(e.consumer.Key)
	buy := func(did common.Hash, nft common.Address, erc721 bool, amount int64, nftType int) {
		t.Helper()
		sale := chain.NFTSale{DID: did, ERC721: erc721, Holder: e.publisher.Address, Receiver: e.consumer.Address,
			Amount: big.NewInt(amount), Transfer: true, Price: price, NFTContract: nft}
		ag, err := e.client.OrderNFT(ctx, consumer, randomHash(), sale)
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"agreementId":%q,"nftReceiver":%q,"nftAmount":"%d","nftType":%d}`, ag.ID.Hex(), e.consumer.Address.Hex(), amount, nftType)
		if code, resp := e.postStatus("/api/v1/node/services/nft-transfer", "application/json", body, ""); code != 201 {
			t.Fatalf("nft-transfer: %d %v", code, resp)
		}
	}

	// ERC-1155, agreement path: the consumer holds an edition, creates an
	// nft-access agreement and proves holding; the node fulfils access.
	did, nft := e.publishNFT(price, "nft1155")
	buy(did, nft, false, 1, 1155)
	ag, err := e.client.OrderNFTAccess(ctx, consumer, randomHash(), chain.NFTAccessOrder{DID: did, Amount: big.NewInt(1), NFTContract: nft}, true)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := e.client.NonceAt(ctx, e.provider)
	code, tok := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": ag.ID.Hex(), "did": didClaim(did), "service_index": 3})
	if code != 201 {
		t.Fatalf("nft-access agreement token: %d %v", code, tok)
	}
	if after, _ := e.client.NonceAt(ctx, e.provider); after != nonce+1 {
		t.Fatalf("the node sent %d transactions; want 1 (NFTAccessCondition)", after-nonce)
	}
	path := "/api/v1/node/services/nft-access/" + strings.TrimPrefix(ag.ID.Hex(), "0x") + "/0"
	if code, body := e.download(path, tok["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("download under the nft-access agreement: %d", code)
	}

	// ERC-721, holder path.
	did721, nft721 := e.publishNFT(price, "nft721")
	if code, _ := e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": "0x", "did": didClaim(did721)}); code != 401 {
		t.Fatalf("ERC-721 access without the token: %d", code)
	}
	buy(did721, nft721, true, 1, 721)
	code, tok = e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": "0x", "did": didClaim(did721)})
	if code != 201 {
		t.Fatalf("ERC-721 holder token: %d %v", code, tok)
	}
	if code, body := e.download("/api/v1/node/services/download/0", tok["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("ERC-721 holder download: %d", code)
	}
	// ERC-721, agreement path (NFT721AccessTemplate).
	ag721, err := e.client.OrderNFTAccess(ctx, consumer, randomHash(), chain.NFTAccessOrder{DID: did721, ERC721: true, Amount: big.NewInt(1), NFTContract: nft721}, true)
	if err != nil {
		t.Fatal(err)
	}
	code, tok = e.token(e.consumer.Key, map[string]any{"aud": auth.AudienceNFTAccess, "sub": ag721.ID.Hex(), "did": didClaim(did721)})
	if code != 201 {
		t.Fatalf("ERC-721 agreement token: %d %v", code, tok)
	}
	path = "/api/v1/node/services/nft-access/" + ag721.ID.Hex() + "/0"
	if code, body := e.download(path, tok["access_token"].(string)); code != 200 || body != e.content {
		t.Fatalf("ERC-721 agreement download: %d", code)
	}
}

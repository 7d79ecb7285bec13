package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/authz"
	"github.com/nvm-node/nvm-node/core/chain"
)

// NFTSeller carries out the provider's side of nft-sales agreements.
type NFTSeller interface {
	TransferNFT(ctx context.Context, r authz.TransferRequest) ([]chain.Fulfilment, error)
}

// postNFTTransfer (SPEC 2.8): after a buyer paid for an NFT, the node
// transfers (or mints) it and releases the escrow. Public: the agreement
// and the locked payment are the authorization.
func (s *server) postNFTTransfer(w http.ResponseWriter, r *http.Request) {
	f, err := readFields(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vals, err := f.requireStrings("agreementId", "nftReceiver", "nftAmount")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req authz.TransferRequest
	var problems []string
	id := strings.TrimPrefix(strings.ToLower(vals[0]), "0x")
	if b, ok := hexBytes(id); !ok || len(b) != 32 {
		problems = append(problems, "agreementId must be a 32-byte hex string")
	} else {
		req.AgreementID = common.BytesToHash(b)
	}
	if !common.IsHexAddress(vals[1]) {
		problems = append(problems, "nftReceiver must be an address")
	} else {
		req.Receiver = common.HexToAddress(vals[1])
	}
	amount, ok := new(big.Int).SetString(strings.TrimSpace(vals[2]), 10)
	if !ok || amount.Sign() < 0 {
		problems = append(problems, "nftAmount must be a non-negative decimal integer")
	}
	req.Amount = amount
	if d, ok := f["did"].(string); ok {
		if did, err := asset.ParseDIDAny(d); err == nil {
			req.DID = &did
		}
	}
	if n, ok := f["serviceIndex"].(json.Number); ok {
		if i, err := n.Int64(); err == nil && i > 0 && i < 1<<20 {
			req.ServiceIndex = int(i)
		}
	}
	if len(problems) > 0 {
		s.fail(w, r, badRequest(problems))
		return
	}
	if s.cfg.NFTSeller == nil {
		s.fail(w, r, &Error{Status: http.StatusNotImplemented, Message: "this node has no chain configured"})
		return
	}
	_, err = s.cfg.NFTSeller.TransferNFT(r.Context(), req)
	var d *authz.Denied
	switch {
	case errors.Is(err, authz.ErrNoSuchAgreement):
		s.fail(w, r, &Error{Status: http.StatusNotFound, Message: "Agreement " + req.AgreementID.Hex() + " not found", Cause: err})
		return
	case errors.As(err, &d):
		s.fail(w, r, &Error{Status: http.StatusForbidden, Message: d.Reason, Cause: err})
		return
	case errors.Is(err, chain.ErrUnavailable):
		s.fail(w, r, &Error{Status: http.StatusServiceUnavailable, Message: "the chain is unavailable; retry later", Cause: err, RetryAfter: 5})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	// The reference answers the bare text "success", which clients check.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte("success"))
}

func hexBytes(s string) ([]byte, bool) {
	b, err := hex.DecodeString(s)
	return b, err == nil
}

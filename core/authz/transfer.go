package authz

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/chain"
)

// TransferRequest is the body of POST nft-transfer (SPEC 2.8), validated.
type TransferRequest struct {
	AgreementID common.Hash
	// DID, when set, names the asset; else the agreement's DID is used.
	DID      *asset.DID
	Receiver common.Address
	Amount   *big.Int
	// ServiceIndex selects the nft-sales service when > 0 (the SDK sends
	// -1 when unset).
	ServiceIndex int
}

// ErrNoSuchAgreement: the agreement does not exist (the API answers 404).
var ErrNoSuchAgreement = errors.New("authz: no such agreement")

// TransferNFT carries out the provider's side of an nft-sales agreement
// (SPEC 4.8): the buyer's payment must be locked; then the node transfers (or
// mints) the NFT to the receiver and releases the escrow, skipping steps
// already done, so a retry after a partial success completes instead of
// failing as in the reference.
func (z *Authorizer) TransferNFT(ctx context.Context, r TransferRequest) (fs []chain.Fulfilment, err error) {
	start := time.Now()
	d := &decision{checked: []string{"LockPaymentCondition", "TransferNFTCondition", "EscrowPaymentCondition"}}
	didText := ""
	defer func() {
		d.fulfilment = fs
		z.auditTransfer(ctx, r, didText, d, err, time.Since(start))
	}()
	ag, err := z.cfg.Chain.Agreement(ctx, r.AgreementID)
	switch {
	case errors.Is(err, chain.ErrNoAgreement):
		return nil, fmt.Errorf("%w: %s", ErrNoSuchAgreement, r.AgreementID.Hex())
	case err != nil:
		return nil, err
	}
	did := asset.DID(ag.DID)
	if r.DID != nil {
		did = *r.DID
	}
	didText = did.String()
	ddo, err := z.resolve(ctx, did)
	if err != nil {
		return nil, err
	}
	var svc *asset.Service
	if r.ServiceIndex > 0 {
		svc, err = ddo.ServiceByIndex(r.ServiceIndex)
	} else {
		svc, err = ddo.ServiceByType("nft-sales")
	}
	if err != nil {
		return nil, deny("the asset has no such nft-sales service")
	}
	sale, err := saleTerms(ctx, z.cfg.Chain, ddo, svc)
	if err != nil {
		return nil, err
	}
	sale.AgreementID, sale.DID, sale.Receiver, sale.Amount = r.AgreementID, common.Hash(did), r.Receiver, r.Amount
	if sale.ERC721 {
		sale.Amount = big.NewInt(1)
	}
	fs, err = z.cfg.Provider.ProcessNFTSale(ctx, sale)
	switch {
	case errors.Is(err, chain.ErrNotPaid):
		return fs, deny("the payment of agreement %s is not locked", r.AgreementID.Hex())
	case errors.Is(err, chain.ErrAgreementMismatch):
		return fs, deny("agreement %s does not match this sale (receiver, amount, price)", r.AgreementID.Hex())
	case errors.Is(err, chain.ErrConditionAborted), errors.Is(err, chain.ErrReverted), errors.Is(err, chain.ErrNotFulfilled):
		return fs, deny("Could not transfer nft %s to %s", did, r.Receiver.Hex())
	}
	return fs, err
}

// saleTerms reads the transfer and payment terms of an nft-sales service.
func saleTerms(ctx context.Context, c *chain.Client, ddo *asset.DDO, svc *asset.Service) (chain.NFTSale, error) {
	var s chain.NFTSale
	erc, _ := ddo.ERCType()
	s.ERC721 = erc == 721
	param := func(name string) (string, error) {
		v, err := svc.ConditionParam("transferNFT", name)
		if err != nil {
			return "", err
		}
		return v.String()
	}
	holder, err := param("_nftHolder")
	if err != nil || !common.IsHexAddress(holder) {
		return s, deny("the nft-sales service names no NFT holder")
	}
	s.Holder = common.HexToAddress(holder)
	if addr, err := param("_contractAddress"); err == nil && common.IsHexAddress(addr) {
		s.NFTContract = common.HexToAddress(addr)
	}
	transfer, _ := param("_nftTransfer")
	s.Transfer = strings.EqualFold(transfer, "true")
	if dur, _ := param("_duration"); dur != "" && dur != "0" {
		n, ok := new(big.Int).SetString(dur, 10)
		if !ok || n.Sign() < 0 {
			return s, deny("the nft-sales service's duration is not a number")
		}
		head, err := c.BlockNumber(ctx)
		if err != nil {
			return s, err
		}
		s.Expiration = new(big.Int).Add(n, new(big.Int).SetUint64(head))
	}
	if s.Price, err = servicePrice(svc); err != nil {
		return s, deny("the nft-sales service has no usable price: %v", err)
	}
	return s, nil
}

func (z *Authorizer) auditTransfer(ctx context.Context, r TransferRequest, did string, d *decision, err error, took time.Duration) {
	z.audit(ctx, auditSubject{grantee: r.Receiver, audience: "nft-transfer", did: did, agreement: r.AgreementID.Hex()}, d, err, took)
}

package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// ErrNotHolder means the NFT holder condition of an nft-access agreement is
// not fulfilled: the consumer has not proven it holds the NFT.
var ErrNotHolder = errors.New("nft holder condition not fulfilled")

// NFTAccessOrder is an nft-access agreement as the DDO and the token
// request describe it (SPEC 4.6, the intended BaseTemplate flow): the
// consumer proves it holds Amount NFTs (the holder condition, fulfilled by
// the consumer), then the node grants access.
type NFTAccessOrder struct {
	AgreementID common.Hash
	DID         common.Hash
	ERC721      bool // NFT721AccessTemplate; else NFTAccessTemplate
	Consumer    common.Address
	Amount      *big.Int       // nftHolder._numberNfts (ERC-721: 1)
	NFTContract common.Address // zero: the deployment's NFT1155Upgradeable / NFT721Upgradeable
}

// NFTAccessIDs are the condition ids (or seeds) of an nft-access agreement,
// in the template's order: holder, access.
type NFTAccessIDs struct {
	Holder, Access common.Hash
}

// nftAccessNames: NFTAccessTemplate uses NFTHolderCondition and
// NFTAccessCondition (whose 3-argument fulfill hashes the DIDRegistry as
// contract); NFT721AccessTemplate uses NFT721HolderCondition and the plain
// AccessCondition.
func (o NFTAccessOrder) names() (template, holder, access, nft string) {
	if o.ERC721 {
		return contracts.NFT721AccessTemplate, contracts.NFT721HolderCondition, contracts.AccessCondition, contracts.NFT721Upgradeable
	}
	return contracts.NFTAccessTemplate, contracts.NFTHolderCondition, contracts.NFTAccessCondition, contracts.NFT1155Upgradeable
}

func (c *Client) resolveNFTAccess(o NFTAccessOrder) (NFTAccessOrder, error) {
	if o.Amount == nil {
		o.Amount = big.NewInt(1)
	}
	if o.Amount.Sign() < 0 {
		return o, fmt.Errorf("%w: NFT amount %s", ErrBadPrice, o.Amount)
	}
	if o.NFTContract == (common.Address{}) {
		_, _, _, nft := o.names()
		a, err := c.contracts.Address(nft)
		if err != nil {
			return o, err
		}
		o.NFTContract = a
	}
	return o, nil
}

// NFTAccessConditions computes the seeds and ids of an nft-access agreement.
func (c *Client) NFTAccessConditions(o NFTAccessOrder) (seeds, ids NFTAccessIDs, err error) {
	if o, err = c.resolveNFTAccess(o); err != nil {
		return seeds, ids, err
	}
	_, holderName, accessName, _ := o.names()
	holderC, err := c.contracts.Address(holderName)
	if err != nil {
		return seeds, ids, err
	}
	accessC, err := c.contracts.Address(accessName)
	if err != nil {
		return seeds, ids, err
	}
	if seeds.Holder, err = NFTHolderHash(o.DID, o.Consumer, o.Amount, o.NFTContract); err != nil {
		return seeds, ids, err
	}
	if o.ERC721 {
		seeds.Access = AccessHash(o.DID, o.Consumer)
	} else {
		registry, err := c.contracts.Address(contracts.DIDRegistry)
		if err != nil {
			return seeds, ids, err
		}
		seeds.Access = NFTAccessHash(o.DID, o.Consumer, registry)
	}
	ids.Holder = ConditionID(o.AgreementID, holderC, seeds.Holder)
	ids.Access = ConditionID(o.AgreementID, accessC, seeds.Access)
	return seeds, ids, nil
}

// HeldNFT is an nft-access agreement whose holder condition
// VerifyNFTHolder found fulfilled.
type HeldNFT struct {
	Order     NFTAccessOrder
	IDs       NFTAccessIDs
	Agreement *Agreement
	verified  bool
}

// VerifyNFTHolder checks the agreement against the order (template, DID,
// consumer, amount, contract) and that its holder condition is fulfilled,
// sending nothing. Errors: ErrNoAgreement, ErrAgreementMismatch,
// ErrNotHolder, ErrConditionAborted, ErrUnavailable.
func (p *Provider) VerifyNFTHolder(ctx context.Context, o NFTAccessOrder) (*HeldNFT, error) {
	o, err := p.c.resolveNFTAccess(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAgreementMismatch, err)
	}
	_, ids, err := p.c.NFTAccessConditions(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAgreementMismatch, err)
	}
	template, _, _, _ := o.names()
	a, err := p.verifyAgreement(ctx, o.AgreementID, o.DID, template,
		expect{ids.Holder, "this holder, amount and NFT contract"}, expect{ids.Access, "consumer " + o.Consumer.Hex()})
	if err != nil {
		return nil, err
	}
	st, err := p.c.ConditionState(ctx, ids.Holder)
	if err != nil {
		return nil, err
	}
	switch st {
	case StateFulfilled:
	case StateAborted:
		return nil, fmt.Errorf("%w: holder condition of agreement %s", ErrConditionAborted, o.AgreementID)
	default:
		return nil, fmt.Errorf("%w: agreement %s: holder condition is %s", ErrNotHolder, o.AgreementID, st)
	}
	return &HeldNFT{Order: o, IDs: ids, Agreement: a, verified: true}, nil
}

var errUnverifiedNFT = errors.New("chain: HeldNFT did not come from VerifyNFTHolder")

// FulfilNFTAccess fulfils the access condition of an nft-access agreement
// (NFTAccessCondition, or AccessCondition for ERC-721) unless it already is.
func (p *Provider) FulfilNFTAccess(ctx context.Context, h *HeldNFT) (Fulfilment, error) {
	if h == nil || !h.verified {
		return Fulfilment{}, errUnverifiedNFT
	}
	o := h.Order
	_, _, accessName, _ := o.names()
	method := "fulfill"
	if !o.ERC721 {
		method = "fulfill(bytes32,bytes32,address)"
	}
	return p.fulfil(ctx, accessName, h.IDs.Access, method, o.AgreementID, o.DID, o.Consumer)
}

// ProcessNFTAccess verifies the holder condition and fulfils access.
func (p *Provider) ProcessNFTAccess(ctx context.Context, o NFTAccessOrder) (Fulfilment, error) {
	h, err := p.VerifyNFTHolder(ctx, o)
	if err != nil {
		return Fulfilment{}, err
	}
	return p.FulfilNFTAccess(ctx, h)
}

// NFTAccessAgreement is an nft-access agreement a consumer created.
type NFTAccessAgreement struct {
	ID    common.Hash
	Seeds NFTAccessIDs
	IDs   NFTAccessIDs
	Txs   []*Tx
}

// OrderNFTAccess creates an nft-access agreement from the sender's account
// (the consumer; o.AgreementID and o.Consumer are set from seed and the
// sender) and, with proveHolding, fulfils its holder condition (which
// reverts unless the sender holds the NFTs).
func (c *Client) OrderNFTAccess(ctx context.Context, s *Sender, seed common.Hash, o NFTAccessOrder, proveHolding bool) (*NFTAccessAgreement, error) {
	o.AgreementID, o.Consumer = AgreementID(seed, s.from), s.from
	o, err := c.resolveNFTAccess(o)
	if err != nil {
		return nil, err
	}
	seeds, ids, err := c.NFTAccessConditions(o)
	if err != nil {
		return nil, err
	}
	out := &NFTAccessAgreement{ID: o.AgreementID, Seeds: seeds, IDs: ids}
	template, holderName, _, _ := o.names()
	zeros := []*big.Int{new(big.Int), new(big.Int)}
	tx, err := s.Transact(ctx, nil, template, "createAgreement(bytes32,bytes32,bytes32[],uint256[],uint256[],address)",
		seed, o.DID, [][32]byte{seeds.Holder, seeds.Access}, zeros, zeros, s.from)
	if tx != nil {
		out.Txs = append(out.Txs, tx)
	}
	if err != nil || !proveHolding {
		return out, err
	}
	tx, err = s.Transact(ctx, nil, holderName, "fulfill(bytes32,bytes32,address,uint256,address)",
		o.AgreementID, o.DID, o.Consumer, o.Amount, o.NFTContract)
	if tx != nil {
		out.Txs = append(out.Txs, tx)
	}
	return out, err
}

// HasNFTAccess is NFTAccessCondition.checkPermissions(grantee, did).
func (c *Client) HasNFTAccess(ctx context.Context, grantee common.Address, did common.Hash) (bool, error) {
	return one[bool](c.Call(ctx, contracts.NFTAccessCondition, "checkPermissions", grantee, did))
}

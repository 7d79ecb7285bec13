package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// NFTSale is an nft-sales agreement as the DDO and the nft-transfer request
// describe it (SPEC 4.8): the NFT moves from Holder to Receiver once the
// price is locked, then the escrow pays the receivers.
type NFTSale struct {
	AgreementID common.Hash
	DID         common.Hash
	ERC721      bool           // NFT721SalesTemplate; else NFTSalesTemplate (ERC-1155)
	Holder      common.Address // DDO transferNFT._nftHolder
	Receiver    common.Address // the buyer, also refunded if the transfer aborts
	Amount      *big.Int       // editions (ERC-721: 1)
	NFTContract common.Address // zero: the deployment's NFT1155Upgradeable / NFT721Upgradeable
	Transfer    bool           // DDO transferNFT._nftTransfer: move the holder's NFT (true) or mint
	// Expiration is the expiration block of subscription NFTs (nil: none);
	// it is passed to fulfillForDelegate and not hashed (SPEC 12 G1).
	Expiration *big.Int
	Price      Price
}

// SaleIDs are the condition ids of an nft-sales agreement.
type SaleIDs struct {
	Lock, Transfer, Escrow common.Hash
}

// SaleSeeds are its condition seeds in the template's order: lock payment,
// transfer, escrow payment.
type SaleSeeds struct {
	Lock, Transfer, Escrow common.Hash
}

// saleNames are the contracts of one flavour of sale.
type saleNames struct {
	template, transfer, nft string
	fulfilSig               string
}

func (s NFTSale) names() saleNames {
	if s.ERC721 {
		// The 721 condition takes the bool before the contract address.
		return saleNames{contracts.NFT721SalesTemplate, contracts.TransferNFT721Condition, contracts.NFT721Upgradeable,
			"fulfillForDelegate(bytes32,bytes32,address,address,uint256,bytes32,bool,address,uint256)"}
	}
	return saleNames{contracts.NFTSalesTemplate, contracts.TransferNFTCondition, contracts.NFT1155Upgradeable,
		"fulfillForDelegate(bytes32,bytes32,address,address,uint256,bytes32,address,bool,uint256)"}
}

// resolve fills the defaults of a sale.
func (c *Client) resolveSale(s NFTSale) (NFTSale, error) {
	if s.Amount == nil {
		s.Amount = big.NewInt(1)
	}
	if s.Amount.Sign() <= 0 {
		return s, fmt.Errorf("%w: NFT amount %s", ErrBadPrice, s.Amount)
	}
	if s.Expiration == nil {
		s.Expiration = new(big.Int)
	}
	if s.NFTContract == (common.Address{}) {
		a, err := c.contracts.Address(s.names().nft)
		if err != nil {
			return s, err
		}
		s.NFTContract = a
	}
	return s, nil
}

// SaleConditions computes the seeds and ids of an nft-sales agreement.
func (c *Client) SaleConditions(s NFTSale) (SaleSeeds, SaleIDs, error) {
	s, err := c.resolveSale(s)
	if err != nil {
		return SaleSeeds{}, SaleIDs{}, err
	}
	if err := s.Price.Validate(); err != nil {
		return SaleSeeds{}, SaleIDs{}, err
	}
	n := s.names()
	var addr [3]common.Address
	for i, name := range []string{contracts.LockPaymentCondition, n.transfer, contracts.EscrowPaymentCondition} {
		if addr[i], err = c.contracts.Address(name); err != nil {
			return SaleSeeds{}, SaleIDs{}, err
		}
	}
	lockC, transferC, escrowC := addr[0], addr[1], addr[2]
	var seeds SaleSeeds
	var ids SaleIDs
	if seeds.Lock, err = LockPaymentHash(s.DID, escrowC, s.Price); err != nil {
		return SaleSeeds{}, SaleIDs{}, err
	}
	ids.Lock = ConditionID(s.AgreementID, lockC, seeds.Lock)
	if seeds.Transfer, err = TransferNFTHash(TransferNFTParams{DID: s.DID, Holder: s.Holder, Receiver: s.Receiver,
		Amount: s.Amount, LockCondition: ids.Lock, NFTContract: s.NFTContract, Transfer: s.Transfer}); err != nil {
		return SaleSeeds{}, SaleIDs{}, err
	}
	ids.Transfer = ConditionID(s.AgreementID, transferC, seeds.Transfer)
	if seeds.Escrow, err = EscrowPaymentHash(EscrowParams{DID: s.DID, Price: s.Price, ReturnAddress: s.Receiver,
		LockPayment: escrowC, LockCondition: ids.Lock, ReleaseCondition: ids.Transfer}); err != nil {
		return SaleSeeds{}, SaleIDs{}, err
	}
	ids.Escrow = ConditionID(s.AgreementID, escrowC, seeds.Escrow)
	return seeds, ids, nil
}

// PaidSale is an nft-sales agreement whose lock payment VerifyNFTSale found
// fulfilled for the sale's terms.
type PaidSale struct {
	Sale      NFTSale
	IDs       SaleIDs
	Agreement *Agreement
	verified  bool
}

// VerifyNFTSale checks the agreement against the sale's terms (template,
// DID, price, holder, receiver, amount, contract) and that the price is
// locked, sending nothing.
func (p *Provider) VerifyNFTSale(ctx context.Context, s NFTSale) (*PaidSale, error) {
	s, err := p.c.resolveSale(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAgreementMismatch, err)
	}
	_, ids, err := p.c.SaleConditions(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAgreementMismatch, err)
	}
	a, err := p.verifyAgreement(ctx, s.AgreementID, s.DID, s.names().template,
		expect{ids.Lock, "the asset's price"}, expect{ids.Transfer, "this transfer (holder, receiver, amount, contract)"},
		expect{ids.Escrow, "receiver " + s.Receiver.Hex()})
	if err != nil {
		return nil, err
	}
	if err := p.checkLock(ctx, s.AgreementID, ids.Lock); err != nil {
		return nil, err
	}
	return &PaidSale{Sale: s, IDs: ids, Agreement: a, verified: true}, nil
}

var errUnverifiedSale = errors.New("chain: PaidSale did not come from VerifyNFTSale")

// FulfilTransferNFT fulfils the transfer condition through
// fulfillForDelegate: the node (DID provider, market role or approved
// operator of the holder) moves or mints the NFT to the receiver.
func (p *Provider) FulfilTransferNFT(ctx context.Context, ps *PaidSale) (Fulfilment, error) {
	if ps == nil || !ps.verified {
		return Fulfilment{}, errUnverifiedSale
	}
	s, n := ps.Sale, ps.Sale.names()
	args := []any{s.AgreementID, s.DID, s.Holder, s.Receiver, s.Amount, [32]byte(ps.IDs.Lock)}
	if s.ERC721 {
		args = append(args, s.Transfer, s.NFTContract, s.Expiration)
	} else {
		args = append(args, s.NFTContract, s.Transfer, s.Expiration)
	}
	return p.fulfil(ctx, n.transfer, ps.IDs.Transfer, n.fulfilSig, args...)
}

// FulfilSaleEscrow releases the sale's escrow to the receivers.
func (p *Provider) FulfilSaleEscrow(ctx context.Context, ps *PaidSale) (Fulfilment, error) {
	if ps == nil || !ps.verified {
		return Fulfilment{}, errUnverifiedSale
	}
	s := ps.Sale
	escrowC, err := p.c.contracts.Address(contracts.EscrowPaymentCondition)
	if err != nil {
		return Fulfilment{}, err
	}
	return p.fulfil(ctx, contracts.EscrowPaymentCondition, ps.IDs.Escrow, "fulfill",
		s.AgreementID, s.DID, s.Price.Amounts, s.Price.Receivers, s.Receiver, escrowC, s.Price.Token,
		[32]byte(ps.IDs.Lock), [32]byte(ps.IDs.Transfer))
}

// ProcessNFTSale is the nft-transfer endpoint's on-chain step: verify the
// lock payment, transfer the NFT, release the escrow. Retries after a
// partial success skip what is already fulfilled.
func (p *Provider) ProcessNFTSale(ctx context.Context, s NFTSale) ([]Fulfilment, error) {
	ps, err := p.VerifyNFTSale(ctx, s)
	if err != nil {
		return nil, err
	}
	tr, err := p.FulfilTransferNFT(ctx, ps)
	if err != nil {
		return nil, err
	}
	esc, err := p.FulfilSaleEscrow(ctx, ps)
	if err != nil {
		return []Fulfilment{tr}, err
	}
	return []Fulfilment{tr, esc}, nil
}

// SaleAgreement is an nft-sales agreement a buyer created.
type SaleAgreement struct {
	ID    common.Hash
	Seeds SaleSeeds
	IDs   SaleIDs
	Txs   []*Tx
}

// OrderNFT creates an nft-sales agreement from the sender's account (the
// buyer; sale.AgreementID is ignored and computed from seed) and pays the
// price into escrow.
func (c *Client) OrderNFT(ctx context.Context, s *Sender, seed common.Hash, sale NFTSale) (*SaleAgreement, error) {
	sale.AgreementID = AgreementID(seed, s.from)
	seeds, ids, err := c.SaleConditions(sale)
	if err != nil {
		return nil, err
	}
	out := &SaleAgreement{ID: sale.AgreementID, Seeds: seeds, IDs: ids}
	// _idx 0: the lock payment is the template's first condition.
	txs, err := c.createAndPay(ctx, s, sale.names().template, seed, sale.DID,
		[][32]byte{seeds.Lock, seeds.Transfer, seeds.Escrow}, 0, sale.Price)
	out.Txs = txs
	return out, err
}

// NFT1155Balance is ERC-1155 balanceOf(owner, tokenID) on nftContract (zero:
// the deployment's NFT1155Upgradeable); an asset's token id is its DID.
func (c *Client) NFT1155Balance(ctx context.Context, nftContract, owner common.Address, tokenID *big.Int) (*big.Int, error) {
	ct, err := c.contracts.Get(contracts.NFT1155Upgradeable)
	if err != nil {
		return nil, err
	}
	if nftContract == (common.Address{}) {
		nftContract = ct.Address
	}
	m, err := ct.Method("balanceOf(address,uint256)")
	if err != nil {
		return nil, err
	}
	return one[*big.Int](c.callAt(ctx, nftContract, m, owner, tokenID))
}

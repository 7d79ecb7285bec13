package authz

import (
	"context"
	"errors"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/contracts"
)

// burnSig is the ERC-1155 burn the node calls as the DID's provider.
const burnSig = "burn(address,uint256,uint256)"

// ChargeCredits burns the credits one use of a credit NFT asset costs, from
// the holder's balance, and returns the burn transaction (zero when nothing
// is charged: not a credit asset, the owner, or a zero price). The reference
// node burns on every token request (SPEC 11.4); the node calls this once
// per file actually served.
func (z *Authorizer) ChargeCredits(ctx context.Context, grantee common.Address, did asset.DID, ddo *asset.DDO) (tx common.Hash, err error) {
	if ddo.NFTType() != "nft1155-credit" {
		return common.Hash{}, nil
	}
	start := time.Now()
	d := &decision{checked: []string{"DIDRegistry.getDIDOwner", "ERC1155.balanceOf"}}
	defer func() {
		if tx != (common.Hash{}) {
			d.fulfilment = []chain.Fulfilment{{Condition: "NFT1155.burn", Tx: tx}}
		}
		z.audit(ctx, auditSubject{grantee: grantee, audience: "nft-credits", did: did.String()}, d, err, time.Since(start))
	}()
	owner, err := z.cfg.Chain.DIDOwner(ctx, common.Hash(did))
	if err != nil {
		return common.Hash{}, err
	}
	if owner == grantee {
		return common.Hash{}, nil
	}
	svc, err := ddo.ServiceByType("nft-access")
	if err != nil {
		return common.Hash{}, deny("the credit asset has no nft-access service")
	}
	credits := creditsToCharge(svc)
	if credits.Sign() == 0 {
		return common.Hash{}, nil
	}
	contract, err := z.cfg.Chain.Contracts().Address(contracts.NFT1155Upgradeable)
	if err != nil {
		return common.Hash{}, err
	}
	if v, err := svc.ConditionParam("nftHolder", "_contractAddress"); err == nil {
		if a, err := v.Address(); err == nil && a != (common.Address{}) {
			contract = a
		}
	}
	tokenID := new(big.Int).SetBytes(did[:])
	bal, err := chain.Result[*big.Int](z.cfg.Chain.CallAt(ctx, contracts.NFT1155Upgradeable, contract, "balanceOf", grantee, tokenID))
	if err != nil {
		return common.Hash{}, err
	}
	if bal.Cmp(credits) < 0 {
		return common.Hash{}, deny("address %s holds %s credits; a use of this asset costs %s", grantee.Hex(), bal, credits)
	}
	ct, err := z.cfg.Chain.Contracts().Get(contracts.NFT1155Upgradeable)
	if err != nil {
		return common.Hash{}, err
	}
	m, err := ct.Method(burnSig)
	if err != nil {
		return common.Hash{}, err
	}
	args, err := m.Inputs.Pack(grantee, tokenID, credits)
	if err != nil {
		return common.Hash{}, err
	}
	sent, err := z.cfg.Sender.Send(ctx, contract, nil, append(append([]byte{}, m.ID...), args...))
	if errors.Is(err, chain.ErrReverted) {
		// A concurrent use spent the balance between the check and the burn.
		return common.Hash{}, deny("address %s no longer holds the %s credits a use costs", grantee.Hex(), credits)
	}
	if err != nil {
		return common.Hash{}, err
	}
	return sent.Hash, nil
}

// creditsToCharge is the SDK's getCreditsToCharge: the service's amount, or
// minCreditsToCharge when that is larger.
func creditsToCharge(svc *asset.Service) *big.Int {
	credits := new(big.Int)
	a := svc.Attributes.Main.NFTAttributes
	if a == nil {
		return credits
	}
	if n, err := a.Amount.BigInt(); err == nil && n != nil {
		credits.Set(n)
	}
	if credits.Sign() == 0 {
		return credits
	}
	if m, err := a.MinCreditsToCharge.BigInt(); err == nil && m != nil && m.Cmp(credits) > 0 {
		credits.Set(m)
	}
	return credits
}

// Package authz makes the node's authorization decisions: may this grantee
// have a token for this audience, DID and agreement? It asks the chain
// (through core/chain), carries out the provider's side of the agreement, and
// writes one audit record per decision.
//
// The rules fix the reference node's holes (SPEC 3.3, 4.5-4.7, 11): payment
// is verified before anything is fulfilled; conditions already fulfilled are
// skipped rather than sent again; an audience this package does not know is
// refused.
package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/contracts"
)

// Denied is a refusal the client may read: the reason names what is missing
// (a payment, an NFT, ownership), never internals.
type Denied struct{ Reason string }

func (d *Denied) Error() string { return "denied: " + d.Reason }

func deny(format string, a ...any) *Denied { return &Denied{Reason: fmt.Sprintf(format, a...)} }

// Config wires an Authorizer.
type Config struct {
	Chain    *chain.Client
	Provider *chain.Provider
	// Sender sends the node's own transactions beyond condition fulfilments
	// (credit burns); it is the Provider's account.
	Sender   *chain.Sender
	Resolver asset.Resolver
	// Audit receives one record per decision.
	Audit *slog.Logger
}

// Authorizer decides per audience. It is safe for concurrent use.
type Authorizer struct{ cfg Config }

// New returns an Authorizer.
func New(cfg Config) (*Authorizer, error) {
	if cfg.Chain == nil || cfg.Provider == nil || cfg.Sender == nil || cfg.Resolver == nil || cfg.Audit == nil {
		return nil, errors.New("authz: Chain, Provider, Sender, Resolver and Audit are required")
	}
	return &Authorizer{cfg: cfg}, nil
}

// decision is what the audit log records.
type decision struct {
	checked    []string
	fulfilment []chain.Fulfilment
}

// Authorize decides whether a's grantee may have a token for a's audience.
// A refusal is a *Denied; chain.ErrUnavailable means the chain could not be
// asked (retry later); anything else is a failure of the node.
func (z *Authorizer) Authorize(ctx context.Context, a *auth.Assertion) (err error) {
	start := time.Now()
	c := a.Claims
	var d decision
	defer func() {
		z.audit(ctx, auditSubject{grantee: c.Issuer, audience: c.Audience, did: c.DID, agreement: c.AgreementID}, &d, err, time.Since(start))
	}()
	if c.DID == "" {
		return deny("the assertion names no DID")
	}
	did, perr := asset.ParseDID(c.DID)
	if perr != nil {
		return deny("the assertion's DID is not valid")
	}
	switch c.Audience {
	case auth.AudienceAccess:
		return z.access(ctx, c, did, &d)
	case auth.AudienceDownload:
		return z.owner(ctx, c, did, &d)
	case auth.AudienceNFTAccess:
		return z.nftAccess(ctx, c, did, &d)
	default:
		return deny("audience %s is not served by this node yet", c.Audience)
	}
}

// access: SPEC 4.5 with its bug fixed. A grantee the DID already lets in
// (owner, provider, granted) needs nothing more; otherwise the agreement's
// lock payment must be fulfilled, then access and escrow are fulfilled,
// skipping any already fulfilled.
func (z *Authorizer) access(ctx context.Context, c auth.Claims, did asset.DID, d *decision) error {
	if c.AgreementID == "" {
		return deny("an access token needs the agreement id (sub)")
	}
	did32 := common.Hash(did)
	d.checked = append(d.checked, "AccessCondition.checkPermissions")
	ok, err := z.cfg.Chain.HasAccess(ctx, c.Issuer, did32)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	ddo, err := z.resolve(ctx, did)
	if err != nil {
		return err
	}
	price, err := accessPrice(ddo)
	if err != nil {
		return deny("the asset's access service has no usable price: %v", err)
	}
	d.checked = append(d.checked, "LockPaymentCondition", "AccessCondition", "EscrowPaymentCondition")
	fs, err := z.cfg.Provider.ProcessAccess(ctx, chain.AccessOrder{
		AgreementID: common.HexToHash(c.AgreementID), DID: did32, Consumer: c.Issuer, Price: price,
	})
	d.fulfilment = fs
	switch {
	case errors.Is(err, chain.ErrNotPaid):
		return deny("the payment of agreement %s is not locked", c.AgreementID)
	case errors.Is(err, chain.ErrNoAgreement):
		return deny("Agreement %s not found", c.AgreementID)
	case errors.Is(err, chain.ErrAgreementMismatch):
		return deny("agreement %s does not match this asset, price or consumer", c.AgreementID)
	case errors.Is(err, chain.ErrConditionAborted):
		return deny("agreement %s has an aborted condition", c.AgreementID)
	}
	return err
}

// owner: SPEC 4.7. The DID's owner, provider or a grantee DIDRegistry lets in
// may download.
func (z *Authorizer) owner(ctx context.Context, c auth.Claims, did asset.DID, d *decision) error {
	d.checked = append(d.checked, "AccessCondition.checkPermissions")
	ok, err := z.cfg.Chain.HasAccess(ctx, c.Issuer, common.Hash(did))
	if err != nil {
		return err
	}
	if !ok {
		return deny("address %s is neither the owner nor permitted for %s", c.Issuer.Hex(), did)
	}
	return nil
}

// nftAccess: SPEC 4.6, holder path. The grantee must hold the NFTs the
// asset's nft-access service asks for (ERC-1155: at least _numberNfts of the
// token; ERC-721: one).
func (z *Authorizer) nftAccess(ctx context.Context, c auth.Claims, did asset.DID, d *decision) error {
	ddo, err := z.resolve(ctx, did)
	if err != nil {
		return err
	}
	svc, err := ddo.ServiceByType("nft-access")
	if err != nil {
		return deny("the asset has no nft-access service")
	}
	nft, err := svc.ConditionParam("nftHolder", "_contractAddress")
	if err != nil {
		return deny("the asset's nft-access service names no NFT contract")
	}
	contract, err := nft.Address()
	if err != nil {
		return deny("the asset's NFT contract address is not valid")
	}
	erc, _ := ddo.ERCType()
	need := big.NewInt(1)
	if v, err := svc.ConditionParam("nftHolder", "_numberNfts"); err == nil && v.IsSet() && erc != 721 {
		if n, err := v.BigInts(); err == nil && len(n) == 1 {
			need = n[0]
		}
	}
	if c.AgreementID != "" {
		// The agreement path (SPEC 4.6; the reference recurses forever here
		// for ERC-1155): the holder condition must be fulfilled, then the
		// node fulfils the access condition.
		d.checked = append(d.checked, "NFTHolderCondition", "NFTAccessCondition")
		f, err := z.cfg.Provider.ProcessNFTAccess(ctx, chain.NFTAccessOrder{
			AgreementID: common.HexToHash(c.AgreementID), DID: common.Hash(did), ERC721: erc == 721,
			Consumer: c.Issuer, Amount: need, NFTContract: contract,
		})
		if f.ID != (common.Hash{}) {
			d.fulfilment = append(d.fulfilment, f)
		}
		switch {
		case errors.Is(err, chain.ErrNotHolder):
			return deny("the holder condition of agreement %s is not fulfilled", c.AgreementID)
		case errors.Is(err, chain.ErrNoAgreement):
			return deny("Agreement %s not found", c.AgreementID)
		case errors.Is(err, chain.ErrAgreementMismatch):
			return deny("agreement %s does not match this asset, NFT or consumer", c.AgreementID)
		case errors.Is(err, chain.ErrConditionAborted):
			return deny("agreement %s has an aborted condition", c.AgreementID)
		}
		return err
	}
	if erc == 721 {
		d.checked = append(d.checked, "ERC721.balanceOf")
		bal, err := chain.Result[*big.Int](z.cfg.Chain.CallAt(ctx, contracts.NFT721Upgradeable, contract, "balanceOf", c.Issuer))
		if err != nil {
			return err
		}
		if bal.Sign() <= 0 {
			return deny("address %s holds no NFT of %s", c.Issuer.Hex(), contract.Hex())
		}
		return nil
	}
	tokenID := new(big.Int).SetBytes(did[:])
	if v, err := svc.ConditionParam("nftHolder", "_tokenId"); err == nil {
		if s, _ := v.String(); s != "" {
			if t, err := asset.ParseDIDAny(s); err == nil {
				tokenID = new(big.Int).SetBytes(t[:])
			}
		}
	}
	d.checked = append(d.checked, "ERC1155.balanceOf")
	bal, err := chain.Result[*big.Int](z.cfg.Chain.CallAt(ctx, contracts.NFT1155Upgradeable, contract, "balanceOf", c.Issuer, tokenID))
	if err != nil {
		return err
	}
	if bal.Cmp(need) < 0 {
		return deny("address %s holds %s of the %s NFTs this asset needs", c.Issuer.Hex(), bal, need)
	}
	return nil
}

func (z *Authorizer) resolve(ctx context.Context, did asset.DID) (*asset.DDO, error) {
	ddo, err := z.cfg.Resolver.Resolve(ctx, did)
	switch {
	case errors.Is(err, asset.ErrNotFound):
		return nil, deny("No such DID %s", did)
	case errors.Is(err, asset.ErrInvalidDDO):
		return nil, deny("the DDO of %s is not valid", did)
	case errors.Is(err, asset.ErrUnavailable):
		return nil, fmt.Errorf("%w: %w", chain.ErrUnavailable, err)
	}
	return ddo, err
}

// accessPrice reads the escrow amounts and receivers and the lock's token
// from the DDO's access service (SPEC 4.3: the node reads these params).
func accessPrice(ddo *asset.DDO) (chain.Price, error) {
	svc, err := ddo.ServiceByType("access")
	if err != nil {
		return chain.Price{}, err
	}
	return servicePrice(svc)
}

// servicePrice reads a service's escrow amounts, receivers and token.
func servicePrice(svc *asset.Service) (chain.Price, error) {
	var p chain.Price
	amounts, err := svc.ConditionParam("escrowPayment", "_amounts")
	if err != nil {
		return p, err
	}
	if p.Amounts, err = amounts.BigInts(); err != nil {
		return p, err
	}
	receivers, err := svc.ConditionParam("escrowPayment", "_receivers")
	if err != nil {
		return p, err
	}
	if p.Receivers, err = receivers.Addresses(); err != nil {
		return p, err
	}
	token, err := svc.ConditionParam("lockPayment", "_tokenAddress")
	if err != nil {
		return p, err
	}
	if s, _ := token.String(); s != "" {
		if p.Token, err = token.Address(); err != nil {
			return p, err
		}
	}
	return p, p.Validate()
}

// auditSubject is who asked for what.
type auditSubject struct {
	grantee                  common.Address
	audience, did, agreement string
}

// audit writes the decision record: who, which DID and agreement, what was
// checked and fulfilled (with transaction hashes), granted or why not.
func (z *Authorizer) audit(ctx context.Context, c auditSubject, d *decision, err error, took time.Duration) {
	attrs := []slog.Attr{
		slog.String("grantee", c.grantee.Hex()),
		slog.String("audience", c.audience),
		slog.String("did", c.did),
		slog.String("agreement", c.agreement),
		slog.Any("checked", d.checked),
		slog.Duration("took", took),
	}
	for _, f := range d.fulfilment {
		tx := "already fulfilled"
		if !f.AlreadyFulfilled {
			tx = f.Tx.Hex()
		}
		attrs = append(attrs, slog.String("fulfilled."+f.Condition, tx))
	}
	var denied *Denied
	switch {
	case err == nil:
		attrs = append(attrs, slog.Bool("granted", true))
	case errors.As(err, &denied):
		attrs = append(attrs, slog.Bool("granted", false), slog.String("reason", denied.Reason))
	default:
		attrs = append(attrs, slog.Bool("granted", false), slog.String("error", err.Error()))
	}
	z.cfg.Audit.LogAttrs(ctx, slog.LevelInfo, "authorization", attrs...)
}

package chain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"golang.org/x/sync/singleflight"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// AccessIDs are the condition ids of an AccessTemplate agreement.
type AccessIDs struct {
	Lock, Access, Escrow common.Hash
}

// AccessSeeds are the condition seeds (hashValues) the template is called
// with, in the template's order: access, lock payment, escrow payment.
type AccessSeeds struct {
	Access, Lock, Escrow common.Hash
}

// AccessConditions computes the seeds and ids of an AccessTemplate
// agreement for consumer (the grantee and refund address) at price.
func (c *Client) AccessConditions(agreementID, did common.Hash, consumer common.Address, price Price) (AccessSeeds, AccessIDs, error) {
	if err := price.Validate(); err != nil {
		return AccessSeeds{}, AccessIDs{}, err
	}
	var addr [3]common.Address
	for i, n := range []string{contracts.LockPaymentCondition, contracts.AccessCondition, contracts.EscrowPaymentCondition} {
		a, err := c.contracts.Address(n)
		if err != nil {
			return AccessSeeds{}, AccessIDs{}, err
		}
		addr[i] = a
	}
	lockC, accessC, escrowC := addr[0], addr[1], addr[2]
	var seeds AccessSeeds
	var ids AccessIDs
	var err error
	if seeds.Lock, err = LockPaymentHash(did, escrowC, price); err != nil {
		return AccessSeeds{}, AccessIDs{}, err
	}
	ids.Lock = ConditionID(agreementID, lockC, seeds.Lock)
	seeds.Access = AccessHash(did, consumer)
	ids.Access = ConditionID(agreementID, accessC, seeds.Access)
	if seeds.Escrow, err = EscrowPaymentHash(c.escrowParams(did, consumer, price, escrowC, ids)); err != nil {
		return AccessSeeds{}, AccessIDs{}, err
	}
	ids.Escrow = ConditionID(agreementID, escrowC, seeds.Escrow)
	return seeds, ids, nil
}

func (c *Client) escrowParams(did common.Hash, consumer common.Address, price Price, escrowC common.Address, ids AccessIDs) EscrowParams {
	return EscrowParams{DID: did, Price: price, ReturnAddress: consumer, LockPayment: escrowC,
		LockCondition: ids.Lock, ReleaseCondition: ids.Access}
}

// Provider does the node's part of agreements: it checks that consumers
// paid and fulfils the conditions the node is responsible for, from the
// provider account. It is safe for concurrent use; concurrent fulfils of one
// condition share a single transaction.
type Provider struct {
	c     *Client
	s     *Sender
	group singleflight.Group
}

// NewProvider returns a Provider sending from s.
func NewProvider(s *Sender) *Provider { return &Provider{c: s.c, s: s} }

// Address is the provider account.
func (p *Provider) Address() common.Address { return p.s.from }

// AccessOrder is what a consumer asks the access service for: the agreement
// it created, the asset, itself (the token's issuer), and the price the DDO's
// access service states.
type AccessOrder struct {
	AgreementID common.Hash
	DID         common.Hash
	Consumer    common.Address
	Price       Price
}

// PaidAccess is an access agreement whose lock payment VerifyLockPayment
// found fulfilled with the DDO's price. Only VerifyLockPayment makes one, so
// the fulfil methods cannot run before the payment check (SPEC 4.5 BUG).
type PaidAccess struct {
	Order     AccessOrder
	IDs       AccessIDs
	Agreement *Agreement
	verified  bool
}

// Fulfilment reports one condition the provider dealt with.
type Fulfilment struct {
	Condition string // contract name
	ID        common.Hash
	// Tx is the fulfil transaction, zero when the condition was already
	// fulfilled. Concurrent requests that shared one transaction all report
	// it.
	Tx               common.Hash
	AlreadyFulfilled bool
}

// VerifyLockPayment checks, before anything is sent, that the agreement
// exists, was created by AccessTemplate for this DID with an id matching its
// seed and creator, holds the lock, access and escrow conditions computed
// from o (so the consumer and the price match the DDO), and that the lock
// payment is fulfilled. It sends no transaction. Errors: ErrNoAgreement,
// ErrAgreementMismatch, ErrNotPaid, ErrConditionAborted, ErrUnavailable.
func (p *Provider) VerifyLockPayment(ctx context.Context, o AccessOrder) (*PaidAccess, error) {
	_, ids, err := p.c.AccessConditions(o.AgreementID, o.DID, o.Consumer, o.Price)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAgreementMismatch, err)
	}
	a, err := p.verifyAgreement(ctx, o.AgreementID, o.DID, contracts.AccessTemplate,
		expect{ids.Lock, "the asset's price"}, expect{ids.Access, "consumer " + o.Consumer.Hex()}, expect{ids.Escrow, "consumer " + o.Consumer.Hex()})
	if err != nil {
		return nil, err
	}
	if err := p.checkLock(ctx, o.AgreementID, ids.Lock); err != nil {
		return nil, err
	}
	return &PaidAccess{Order: o, IDs: ids, Agreement: a, verified: true}, nil
}

// expect is a condition id an agreement must hold, and what a mismatch
// means.
type expect struct {
	id   common.Hash
	what string
}

// verifyAgreement finds the agreement and checks its id against its seed
// and creator (SPEC 4.5 step 2), its template, its DID and that it holds the
// expected condition ids.
func (p *Provider) verifyAgreement(ctx context.Context, id, did common.Hash, template string, want ...expect) (*Agreement, error) {
	a, err := p.c.Agreement(ctx, id)
	if err != nil {
		return nil, err
	}
	if got := AgreementID(a.IDSeed, a.Creator); got != id {
		return nil, fmt.Errorf("%w: agreement %s should be %s", ErrAgreementMismatch, id, got)
	}
	tmpl, err := p.c.contracts.Address(template)
	if err != nil {
		return nil, err
	}
	if a.Template != tmpl {
		return nil, fmt.Errorf("%w: agreement %s was made with %s, not %s", ErrAgreementMismatch, id, a.TemplateName, template)
	}
	if a.DID != did {
		return nil, fmt.Errorf("%w: agreement %s is for DID %s, not %s", ErrAgreementMismatch, id, a.DID, did)
	}
	for _, w := range want {
		if !a.HasCondition(w.id) {
			return nil, fmt.Errorf("%w: agreement %s was not made for %s", ErrAgreementMismatch, id, w.what)
		}
	}
	return a, nil
}

// checkLock requires the lock payment condition to be fulfilled.
func (p *Provider) checkLock(ctx context.Context, agreementID, lock common.Hash) error {
	st, err := p.c.ConditionState(ctx, lock)
	if err != nil {
		return err
	}
	switch st {
	case StateFulfilled:
		return nil
	case StateAborted:
		return fmt.Errorf("%w: lock payment of agreement %s", ErrConditionAborted, agreementID)
	default:
		return fmt.Errorf("%w: agreement %s: lock payment is %s", ErrNotPaid, agreementID, st)
	}
}

var errUnverified = errors.New("chain: PaidAccess did not come from VerifyLockPayment")

// FulfilAccess fulfils the AccessCondition (granting the consumer access on
// chain) unless it is already fulfilled.
func (p *Provider) FulfilAccess(ctx context.Context, pa *PaidAccess) (Fulfilment, error) {
	if pa == nil || !pa.verified {
		return Fulfilment{}, errUnverified
	}
	o := pa.Order
	return p.fulfil(ctx, contracts.AccessCondition, pa.IDs.Access, "fulfill", o.AgreementID, o.DID, o.Consumer)
}

// FulfilEscrow fulfils the EscrowPaymentCondition, releasing the locked
// payment to the receivers (the access condition must be fulfilled first),
// unless it is already fulfilled.
func (p *Provider) FulfilEscrow(ctx context.Context, pa *PaidAccess) (Fulfilment, error) {
	if pa == nil || !pa.verified {
		return Fulfilment{}, errUnverified
	}
	o := pa.Order
	escrowC, err := p.c.contracts.Address(contracts.EscrowPaymentCondition)
	if err != nil {
		return Fulfilment{}, err
	}
	e := p.c.escrowParams(o.DID, o.Consumer, o.Price, escrowC, pa.IDs)
	return p.fulfil(ctx, contracts.EscrowPaymentCondition, pa.IDs.Escrow, "fulfill",
		o.AgreementID, o.DID, e.Price.Amounts, e.Price.Receivers, e.ReturnAddress, e.LockPayment, e.Price.Token,
		[32]byte(e.LockCondition), [32]byte(e.ReleaseCondition))
}

// ProcessAccess is the access service's on-chain step (SPEC 4.5 with its
// bugs fixed): verify the lock payment, then fulfil access, then escrow. It
// returns the fulfilments done so far also on error, for the audit log.
func (p *Provider) ProcessAccess(ctx context.Context, o AccessOrder) ([]Fulfilment, error) {
	pa, err := p.VerifyLockPayment(ctx, o)
	if err != nil {
		return nil, err
	}
	acc, err := p.FulfilAccess(ctx, pa)
	if err != nil {
		return nil, err
	}
	esc, err := p.FulfilEscrow(ctx, pa)
	if err != nil {
		return []Fulfilment{acc}, err
	}
	return []Fulfilment{acc, esc}, nil
}

// fulfil sends contract.method(args) for condition id unless the condition
// is already fulfilled. Concurrent calls for one id share one attempt
// (singleflight), which runs detached from any single caller's context so
// that a caller giving up does not strand the others.
func (p *Provider) fulfil(ctx context.Context, contract string, id common.Hash, method string, args ...any) (Fulfilment, error) {
	f := Fulfilment{Condition: contract, ID: id}
	if _, ok := p.c.fulfilled.get(id); ok {
		f.AlreadyFulfilled = true
		return f, nil
	}
	ch := p.group.DoChan(id.Hex(), func() (any, error) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.c.cfg.ReceiptTimeout+4*p.c.cfg.CallTimeout)
		defer cancel()
		return p.fulfilOnce(wctx, f, method, args...)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return f, r.Err
		}
		return r.Val.(Fulfilment), nil
	case <-ctx.Done():
		return f, fmt.Errorf("fulfil %s %s: %w", contract, id, ctx.Err())
	}
}

// fulfilOnce re-reads the state before each attempt, so a retry never sends
// a second fulfil for a condition that got fulfilled meanwhile; it retries
// only failures that happened before a transaction left the process.
func (p *Provider) fulfilOnce(ctx context.Context, f Fulfilment, method string, args ...any) (Fulfilment, error) {
	const attempts = 3
	for i := 0; ; i++ {
		st, err := p.c.readConditionState(ctx, f.ID)
		if err != nil {
			return f, err
		}
		switch st {
		case StateFulfilled:
			f.AlreadyFulfilled = true
			return f, nil
		case StateAborted:
			return f, fmt.Errorf("%w: %s %s", ErrConditionAborted, f.Condition, f.ID)
		case StateUninitialized:
			return f, fmt.Errorf("%w: condition %s %s does not exist", ErrAgreementMismatch, f.Condition, f.ID)
		}
		tx, err := p.s.Transact(ctx, nil, f.Condition, method, args...)
		if tx != nil {
			f.Tx = tx.Hash
		}
		if err != nil {
			if errors.Is(err, errNotSent) && errors.Is(err, ErrUnavailable) && i+1 < attempts {
				p.c.cfg.Logger.WarnContext(ctx, "fulfil not sent, retrying", "condition", f.Condition, "id", f.ID, "error", err)
				select {
				case <-ctx.Done():
					return f, err
				case <-time.After(time.Duration(i+1) * 200 * time.Millisecond):
				}
				continue
			}
			// Someone else (another replica, the consumer) may have won
			// the race: that is success, not an error.
			if st, serr := p.c.readConditionState(ctx, f.ID); serr == nil && st == StateFulfilled {
				f.AlreadyFulfilled = tx == nil || tx.Receipt == nil || tx.Receipt.Status == 0
				return f, nil
			}
			return f, err
		}
		st, err = p.c.readConditionState(ctx, f.ID)
		if err != nil {
			return f, err
		}
		switch st {
		case StateFulfilled:
		case StateAborted:
			// Fulfilling after the timeout aborts the condition instead.
			return f, fmt.Errorf("%w: %s %s timed out (transaction %s)", ErrConditionAborted, f.Condition, f.ID, f.Tx)
		default:
			return f, fmt.Errorf("%w: %s %s is %s after transaction %s", ErrNotFulfilled, f.Condition, f.ID, st, f.Tx)
		}
		p.c.cfg.Logger.InfoContext(ctx, "condition fulfilled", "condition", f.Condition, "id", f.ID, "tx", f.Tx)
		return f, nil
	}
}

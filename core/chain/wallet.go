package chain

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// This file holds the publisher and consumer side: what the SDK does, for
// end-to-end tests and Go clients. The node itself only needs the reads.

// RegisterDID registers an asset with DIDRegistry.registerAttribute from the
// sender's account, listing providers (the node's address, so that it may
// fulfil access conditions). It returns the DID.
func (c *Client) RegisterDID(ctx context.Context, s *Sender, seed, checksum common.Hash, providers []common.Address, url string) (common.Hash, *Tx, error) {
	if providers == nil {
		providers = []common.Address{}
	}
	tx, err := s.Transact(ctx, nil, contracts.DIDRegistry, "registerAttribute", seed, checksum, providers, url)
	if err != nil {
		return common.Hash{}, tx, err
	}
	return DIDFromSeed(seed, s.from), tx, nil
}

// MintableDID are the arguments of DIDRegistry.registerMintableDID for an
// ERC-1155 asset.
type MintableDID struct {
	Seed, Checksum common.Hash
	NFTContract    common.Address // zero: the deployment's NFT1155Upgradeable
	Providers      []common.Address
	URL            string
	Cap            *big.Int // 0: unlimited
	Royalties      *big.Int
	Mint           bool // mint Cap tokens to the registrant
	NFTMetadata    string
}

const registerMintableDIDSig = "registerMintableDID(bytes32,address,bytes32,address[],string,uint256,uint256,bool,bytes32,string,string)"

// RegisterMintableDID registers an ERC-1155 asset and returns its DID.
func (c *Client) RegisterMintableDID(ctx context.Context, s *Sender, m MintableDID) (common.Hash, *Tx, error) {
	if m.NFTContract == (common.Address{}) {
		a, err := c.contracts.Address(contracts.NFT1155Upgradeable)
		if err != nil {
			return common.Hash{}, nil, err
		}
		m.NFTContract = a
	}
	if m.Providers == nil {
		m.Providers = []common.Address{}
	}
	zeroIfNil := func(v *big.Int) *big.Int {
		if v == nil {
			return new(big.Int)
		}
		return v
	}
	tx, err := s.Transact(ctx, nil, contracts.DIDRegistry, registerMintableDIDSig, m.Seed, m.NFTContract, m.Checksum,
		m.Providers, m.URL, zeroIfNil(m.Cap), zeroIfNil(m.Royalties), m.Mint, [32]byte{}, m.NFTMetadata, "")
	if err != nil {
		return common.Hash{}, tx, err
	}
	return DIDFromSeed(m.Seed, s.from), tx, nil
}

// DIDOwner returns the owner DIDRegistry records for did (zero if none).
func (c *Client) DIDOwner(ctx context.Context, did common.Hash) (common.Address, error) {
	return one[common.Address](c.Call(ctx, contracts.DIDRegistry, "getDIDOwner", did))
}

// HasAccess is AccessCondition.checkPermissions(grantee, did): grantee is
// provider or owner of the DID or was granted access.
func (c *Client) HasAccess(ctx context.Context, grantee common.Address, did common.Hash) (bool, error) {
	return one[bool](c.Call(ctx, contracts.AccessCondition, "checkPermissions", grantee, did))
}

// AccessAgreement is an AccessTemplate agreement a consumer created.
type AccessAgreement struct {
	ID    common.Hash
	Seeds AccessSeeds
	IDs   AccessIDs
	Txs   []*Tx // approve (ERC-20 only), then the agreement
}

// OrderAccess creates an AccessTemplate agreement for did from the sender's
// account and pays price into escrow (createAgreementAndPayEscrow): ether is
// attached, an ERC-20 token is approved to the LockPaymentCondition first.
func (c *Client) OrderAccess(ctx context.Context, s *Sender, seed, did common.Hash, price Price) (*AccessAgreement, error) {
	return c.orderAccess(ctx, s, seed, did, price, true)
}

// CreateAccessAgreement creates the agreement without paying: the lock
// payment condition stays unfulfilled (what a dishonest consumer would do).
func (c *Client) CreateAccessAgreement(ctx context.Context, s *Sender, seed, did common.Hash, price Price) (*AccessAgreement, error) {
	return c.orderAccess(ctx, s, seed, did, price, false)
}

func (c *Client) orderAccess(ctx context.Context, s *Sender, seed, did common.Hash, price Price, pay bool) (*AccessAgreement, error) {
	id := AgreementID(seed, s.from)
	seeds, ids, err := c.AccessConditions(id, did, s.from, price)
	if err != nil {
		return nil, err
	}
	out := &AccessAgreement{ID: id, Seeds: seeds, IDs: ids}
	zeros := []*big.Int{new(big.Int), new(big.Int), new(big.Int)}
	condSeeds := [][32]byte{seeds.Access, seeds.Lock, seeds.Escrow}
	if !pay {
		tx, err := s.Transact(ctx, nil, contracts.AccessTemplate,
			"createAgreement(bytes32,bytes32,bytes32[],uint256[],uint256[],address)",
			seed, did, condSeeds, zeros, zeros, s.from)
		if tx != nil {
			out.Txs = append(out.Txs, tx)
		}
		return out, err
	}
	txs, err := c.createAndPay(ctx, s, contracts.AccessTemplate, seed, did, condSeeds, 1, price)
	out.Txs = append(out.Txs, txs...)
	return out, err
}

// createAndPay calls template.createAgreementAndPayEscrow, idx being the
// position of the lock payment among the template's conditions: ether is
// attached, an ERC-20 token is approved to the LockPaymentCondition first.
func (c *Client) createAndPay(ctx context.Context, s *Sender, template string, seed, did common.Hash, condSeeds [][32]byte, idx int64, price Price) ([]*Tx, error) {
	var txs []*Tx
	escrowC, err := c.contracts.Address(contracts.EscrowPaymentCondition)
	if err != nil {
		return nil, err
	}
	value := new(big.Int)
	if price.Token == (common.Address{}) {
		value = price.Total()
	} else {
		lockC, err := c.contracts.Address(contracts.LockPaymentCondition)
		if err != nil {
			return nil, err
		}
		tx, err := c.ApproveToken(ctx, s, price.Token, lockC, price.Total())
		if tx != nil {
			txs = append(txs, tx)
		}
		if err != nil {
			return txs, err
		}
	}
	zeros := make([]*big.Int, len(condSeeds))
	for i := range zeros {
		zeros[i] = new(big.Int)
	}
	tx, err := s.Transact(ctx, value, template, "createAgreementAndPayEscrow",
		seed, did, condSeeds, zeros, zeros, s.from, big.NewInt(idx), escrowC, price.Token, price.Amounts, price.Receivers)
	if tx != nil {
		txs = append(txs, tx)
	}
	return txs, err
}

// erc20ABI is the part of ERC-20 the helpers use.
const erc20ABI = `[
{"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"a","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
{"type":"function","name":"approve","stateMutability":"nonpayable","inputs":[{"name":"s","type":"address"},{"name":"v","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]},
{"type":"function","name":"allowance","stateMutability":"view","inputs":[{"name":"o","type":"address"},{"name":"s","type":"address"}],"outputs":[{"name":"","type":"uint256"}]}
]`

func erc20() abi.ABI {
	a, err := abi.JSON(strings.NewReader(erc20ABI))
	if err != nil {
		panic(err) // a constant: any test catches a typo
	}
	return a
}

// TokenBalance returns owner's balance of an ERC-20 token (ether for the
// zero address).
func (c *Client) TokenBalance(ctx context.Context, token, owner common.Address) (*big.Int, error) {
	if token == (common.Address{}) {
		return c.Balance(ctx, owner)
	}
	a := erc20()
	data, err := a.Pack("balanceOf", owner)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	out, err := c.eth.CallContract(cctx, ethereum.CallMsg{To: &token, Data: data}, nil)
	if err != nil {
		return nil, c.err("balanceOf", err)
	}
	return one[*big.Int](a.Unpack("balanceOf", out))
}

// ApproveToken lets spender take amount of token from the sender.
func (c *Client) ApproveToken(ctx context.Context, s *Sender, token, spender common.Address, amount *big.Int) (*Tx, error) {
	data, err := erc20().Pack("approve", spender, amount)
	if err != nil {
		return nil, err
	}
	tx, err := s.Send(ctx, token, nil, data)
	if err != nil {
		return tx, fmt.Errorf("approve: %w", err)
	}
	return tx, nil
}

// RequestTokens mints whole NeverminedTokens (times 10^decimals) to the
// sender through the Dispenser, as test networks allow (at most 1000 per
// request by default).
func (c *Client) RequestTokens(ctx context.Context, s *Sender, wholeTokens *big.Int) (*Tx, error) {
	return s.Transact(ctx, nil, contracts.Dispenser, "requestTokens", wholeTokens)
}

const registerMintableDID721Sig = "registerMintableDID721(bytes32,address,bytes32,address[],string,uint256,bool,bytes32,string)"

// RegisterMintableDID721 registers an ERC-721 asset (m.Cap is ignored; with
// m.Mint the registrant gets token uint256(did)) and returns its DID.
func (c *Client) RegisterMintableDID721(ctx context.Context, s *Sender, m MintableDID) (common.Hash, *Tx, error) {
	if m.NFTContract == (common.Address{}) {
		a, err := c.contracts.Address(contracts.NFT721Upgradeable)
		if err != nil {
			return common.Hash{}, nil, err
		}
		m.NFTContract = a
	}
	if m.Providers == nil {
		m.Providers = []common.Address{}
	}
	royalties := m.Royalties
	if royalties == nil {
		royalties = new(big.Int)
	}
	tx, err := s.Transact(ctx, nil, contracts.DIDRegistry, registerMintableDID721Sig, m.Seed, m.NFTContract, m.Checksum,
		m.Providers, m.URL, royalties, m.Mint, [32]byte{}, "")
	if err != nil {
		return common.Hash{}, tx, err
	}
	return DIDFromSeed(m.Seed, s.from), tx, nil
}

// NFT721Owner is ERC-721 ownerOf(tokenID) on nftContract (zero: the
// deployment's NFT721Upgradeable).
func (c *Client) NFT721Owner(ctx context.Context, nftContract common.Address, tokenID *big.Int) (common.Address, error) {
	ct, err := c.contracts.Get(contracts.NFT721Upgradeable)
	if err != nil {
		return common.Address{}, err
	}
	if nftContract == (common.Address{}) {
		nftContract = ct.Address
	}
	m, err := ct.Method("ownerOf")
	if err != nil {
		return common.Address{}, err
	}
	return one[common.Address](c.callAt(ctx, nftContract, m, tokenID))
}

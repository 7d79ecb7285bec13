package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// ContractReader is the chain access ERC-1271 verification needs. go-ethereum's
// *ethclient.Client and the simulated backend's client satisfy it.
type ContractReader interface {
	ethereum.ContractCaller
	CodeAt(ctx context.Context, account common.Address, blockNumber *big.Int) ([]byte, error)
}

// erc1271Magic is both the selector of isValidSignature(bytes32,bytes) and the
// value a contract wallet returns for a valid signature.
var erc1271Magic = [4]byte{0x16, 0x26, 0xba, 0x7e}

// erc6492Suffix ends ERC-6492 wrapped signatures of undeployed smart accounts.
var erc6492Suffix = common.FromHex("0x6492649264926492649264926492649264926492649264926492649264926492")

var (
	eip712DomainType = crypto.Keccak256([]byte("EIP712Domain(string name,string version,uint256 chainId)"))
	neverminedType   = crypto.Keccak256([]byte("Nevermined(address from,string message,string token)"))
	domainName       = crypto.Keccak256([]byte("Nevermined"))
	domainVersion    = crypto.Keccak256([]byte("1"))
)

// Digest returns the 32-byte hash the issuer signed: the EIP-712 typed-data
// hash when the assertion carries eip712Data, else the EIP-191 personal_sign
// hash of the signing input (SPEC 3.1).
func (a *Assertion) Digest() common.Hash {
	if a.Claims.EIP712 != nil {
		return eip712Digest(a.Claims.Issuer, a.Claims.EIP712.Message, a.SigningInput, a.Claims.EIP712.ChainID)
	}
	return personalDigest(a.SigningInput)
}

// personalDigest is keccak256("\x19Ethereum Signed Message:\n" + len + text).
func personalDigest(text string) common.Hash {
	prefix := "\x19Ethereum Signed Message:\n" + strconv.Itoa(len(text))
	return crypto.Keccak256Hash([]byte(prefix), []byte(text))
}

// eip712Digest hashes the SDK's typed data: domain {name "Nevermined",
// version "1", chainId} (no verifying contract, no salt) and primary type
// Nevermined(address from,string message,string token).
func eip712Digest(from common.Address, message, token string, chainID uint64) common.Hash {
	var cid [32]byte
	new(big.Int).SetUint64(chainID).FillBytes(cid[:])
	domain := crypto.Keccak256(eip712DomainType, domainName, domainVersion, cid[:])
	var fromWord [32]byte
	copy(fromWord[12:], from[:])
	str := crypto.Keccak256(neverminedType, fromWord[:],
		crypto.Keccak256([]byte(message)), crypto.Keccak256([]byte(token)))
	return crypto.Keccak256Hash([]byte{0x19, 0x01}, domain, str)
}

// recoverSigner returns the address whose key made the 65-byte signature sig
// (r||s||v, v in {27,28} or {0,1}) over digest. High-s signatures are refused:
// every mainstream signer emits low-s (EIP-2), and accepting both forms would
// give each signature a second valid encoding.
func recoverSigner(digest common.Hash, sig []byte) (common.Address, error) {
	if len(sig) != crypto.SignatureLength {
		return common.Address{}, fmt.Errorf("%w: signature is %d bytes, want 65", ErrBadSignature, len(sig))
	}
	v := sig[64]
	if v >= 27 {
		v -= 27
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return common.Address{}, fmt.Errorf("%w: invalid or non-canonical (high-s) signature values", ErrBadSignature)
	}
	norm := make([]byte, crypto.SignatureLength)
	copy(norm, sig)
	norm[64] = v
	pub, err := crypto.SigToPub(digest[:], norm)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: cannot recover signer", ErrBadSignature)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// checkSignature proves that issuer signed digest: by ecrecover for an EOA,
// else by ERC-1271 isValidSignature when issuer is a deployed contract and a
// chain is configured. ERC-6492 (undeployed smart accounts) is not supported.
func checkSignature(ctx context.Context, chain ContractReader, gas uint64, issuer common.Address, digest common.Hash, sig []byte) error {
	signer, recErr := recoverSigner(digest, sig)
	if recErr == nil && signer == issuer {
		return nil
	}
	if len(sig) >= len(erc6492Suffix) && bytes.HasSuffix(sig, erc6492Suffix) {
		return fmt.Errorf("%w: ERC-6492 signatures (undeployed smart accounts) are not supported", ErrBadSignature)
	}
	if chain == nil {
		if recErr != nil {
			return recErr
		}
		return fmt.Errorf("%w: signer does not match iss", ErrBadSignature)
	}
	code, err := chain.CodeAt(ctx, issuer, nil)
	if err != nil {
		return fmt.Errorf("%w: reading code of iss: %w", ErrUnverifiable, redactRPCError(ctx, err))
	}
	if len(code) == 0 {
		if recErr != nil {
			return recErr
		}
		return fmt.Errorf("%w: signer does not match iss", ErrBadSignature)
	}
	// The gas cap keeps a hostile "wallet" from making each assertion cost the
	// RPC node a maximal eth_call.
	ret, err := chain.CallContract(ctx, ethereum.CallMsg{To: &issuer, Gas: gas, Data: encodeIsValidSignature(digest, sig)}, nil)
	if err != nil {
		if isRevert(err) {
			return fmt.Errorf("%w: contract wallet isValidSignature failed", ErrBadSignature)
		}
		return fmt.Errorf("%w: calling isValidSignature: %w", ErrUnverifiable, redactRPCError(ctx, err))
	}
	if len(ret) < 32 || !bytes.Equal(ret[:4], erc1271Magic[:]) {
		return fmt.Errorf("%w: contract wallet rejected the signature", ErrBadSignature)
	}
	return nil
}

// encodeIsValidSignature ABI-encodes isValidSignature(bytes32 hash, bytes sig).
func encodeIsValidSignature(digest common.Hash, sig []byte) []byte {
	padded := (len(sig) + 31) / 32 * 32
	out := make([]byte, 0, 4+32*3+padded)
	out = append(out, erc1271Magic[:]...)
	out = append(out, digest[:]...)
	out = append(out, common.LeftPadBytes(big.NewInt(64).Bytes(), 32)...)
	out = append(out, common.LeftPadBytes(big.NewInt(int64(len(sig))).Bytes(), 32)...)
	out = append(out, sig...)
	return append(out, make([]byte, padded-len(sig))...)
}

// evmFailures are the texts (go-ethereum's, which other clients share) of an
// eth_call that ran and failed in the EVM: the wallet's own answer, i.e. not
// valid. Anything else (transport, rate limits, missing state) means the
// chain could not be asked.
var evmFailures = []string{
	"execution reverted", "out of gas", "invalid opcode", "invalid jump destination",
	"stack underflow", "stack overflow", "write protection", "return data out of bounds",
	"max call depth exceeded",
}

// isRevert tells an eth_call that failed in the EVM from a failure to ask.
func isRevert(err error) bool {
	var de interface{ ErrorData() any }
	if errors.As(err, &de) {
		return true
	}
	msg := err.Error()
	for _, f := range evmFailures {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

// redactRPCError drops the endpoint URL from transport errors: RPC URLs often
// carry an API key, and error texts end up in logs.
func redactRPCError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s RPC endpoint: %w", ue.Op, ue.Err)
	}
	return err
}

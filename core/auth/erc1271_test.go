package auth

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
)

// walletBytecode is testdata/wallet/Wallet.bin: Wallet.sol compiled by
// solc-js 0.8.17 (see build.mjs; TestWalletBytecodeMatchesSource re-checks).
func walletBytecode(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "wallet", "Wallet.bin"))
	if err != nil {
		t.Fatal(err)
	}
	code := common.FromHex(strings.TrimSpace(string(data)))
	if len(code) == 0 {
		t.Fatal("Wallet.bin is empty")
	}
	return code
}

// chainFixture is a simulated chain with a deployed Wallet owned by key 1,
// and plain contracts at fixed addresses that fail isValidSignature in
// different ways.
type chainFixture struct {
	client simulated.Client
	wallet common.Address
}

var (
	reverterAddr = common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	silentAddr   = common.HexToAddress("0x000000000000000000000000000000000000bEEF")
	burnerAddr   = common.HexToAddress("0x000000000000000000000000000000000000F00D")
	invalidAddr  = common.HexToAddress("0x000000000000000000000000000000000000BAd0")
)

func newChain(t testing.TB) *chainFixture {
	t.Helper()
	deployer := mustKey(t, key2Hex)
	from := crypto.PubkeyToAddress(deployer.PublicKey)
	backend := simulated.NewBackend(types.GenesisAlloc{
		from:         {Balance: new(big.Int).Mul(big.NewInt(100), big.NewInt(params.Ether))},
		reverterAddr: {Code: []byte{0x60, 0x00, 0x80, 0xfd}}, // PUSH1 0 DUP1 REVERT
		silentAddr:   {Code: []byte{0x00}},                   // STOP
		burnerAddr:   {Code: []byte{0x5b, 0x60, 0x00, 0x56}}, // JUMPDEST PUSH1 0 JUMP: loops until out of gas
		invalidAddr:  {Code: []byte{0xfe}},                   // INVALID
	})
	t.Cleanup(func() { _ = backend.Close() })
	client := backend.Client()

	// Constructor argument: the owner, key 1.
	owner := common.LeftPadBytes(common.HexToAddress(key1Addr).Bytes(), 32)
	data := append(walletBytecode(t), owner...)
	ctx := t.Context()
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := types.MustSignNewTx(deployer, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID:   chainID,
		Nonce:     0,
		GasTipCap: tip,
		GasFeeCap: new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2))),
		Gas:       1_000_000,
		Data:      data,
	})
	if err := client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	backend.Commit()
	receipt, err := client.TransactionReceipt(ctx, tx.Hash())
	if err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("deploy wallet: receipt %+v, %v", receipt, err)
	}
	return &chainFixture{client: client, wallet: receipt.ContractAddress}
}

// walletAssertion makes an assertion whose iss is the wallet, signed by key.
func walletAssertion(t *testing.T, iss common.Address, key *ecdsa.PrivateKey, eip712 bool) string {
	t.Helper()
	claims := loginClaims(iss.Hex(), vectorTime, time.Hour)
	claims["aud"] = AudienceAccess
	if eip712 {
		claims["eip712Data"] = map[string]any{"message": "Sign this message to log in to Nevermined", "chainId": 1337}
	}
	return signPayload(t, key, claims)
}

func TestERC1271ContractWallet(t *testing.T) {
	chain := newChain(t)
	owner, stranger := mustKey(t, key1Hex), mustKey(t, key2Hex)
	for _, eip712 := range []bool{false, true} {
		mode := map[bool]string{false: "EIP-191", true: "EIP-712"}[eip712]
		v := newVerifier(t, VerifierConfig{Chain: chain.client})

		a, err := v.Verify(t.Context(), walletAssertion(t, chain.wallet, owner, eip712))
		if err != nil {
			t.Fatalf("%s: owner-signed wallet assertion: %v", mode, err)
		}
		if a.Claims.Issuer != chain.wallet {
			t.Fatalf("%s: issuer %s, want wallet %s", mode, a.Claims.Issuer.Hex(), chain.wallet.Hex())
		}
		if _, err := v.Verify(t.Context(), walletAssertion(t, chain.wallet, stranger, eip712)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s: stranger-signed wallet assertion: %v", mode, err)
		}
		// Without a chain, a contract wallet cannot be checked.
		if _, err := newVerifier(t, VerifierConfig{}).Verify(t.Context(), walletAssertion(t, chain.wallet, owner, eip712)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s: no chain configured: %v", mode, err)
		}
	}
	v := newVerifier(t, VerifierConfig{Chain: chain.client})
	for name, iss := range map[string]common.Address{
		"reverting contract":          reverterAddr,
		"contract returning nothing":  silentAddr,
		"contract burning all gas":    burnerAddr,
		"contract hitting INVALID":    invalidAddr,
		"EOA without code, wrong key": common.HexToAddress(key2Addr),
	} {
		if _, err := v.Verify(t.Context(), walletAssertion(t, iss, owner, false)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// EOAs still verify by ecrecover with a chain configured.
	if _, err := v.Verify(t.Context(), walletAssertion(t, common.HexToAddress(key1Addr), owner, true)); err != nil {
		t.Fatalf("EOA with chain: %v", err)
	}
}

// A chain that cannot be asked: the RPC URL (API key inside) must not reach
// the error, and the error is ErrUnverifiable, not ErrBadSignature.
type failingChain struct{ err error }

func (f failingChain) CodeAt(context.Context, common.Address, *big.Int) ([]byte, error) {
	return nil, f.err
}

func (f failingChain) CallContract(context.Context, ethereum.CallMsg, *big.Int) ([]byte, error) {
	return nil, f.err
}

func TestERC1271ChainUnavailable(t *testing.T) {
	rpcErr := &url.Error{Op: "Post", URL: "https://rpc.example/v3/SECRET-API-KEY", Err: errors.New("connection refused")}
	v := newVerifier(t, VerifierConfig{Chain: failingChain{err: rpcErr}})
	wallet := common.HexToAddress("0x1111111111111111111111111111111111111111")
	_, err := v.Verify(t.Context(), walletAssertion(t, wallet, mustKey(t, key1Hex), false))
	if !errors.Is(err, ErrUnverifiable) || errors.Is(err, ErrBadSignature) {
		t.Fatalf("error %v, want ErrUnverifiable", err)
	}
	if strings.Contains(err.Error(), "SECRET-API-KEY") {
		t.Fatalf("RPC URL leaked: %v", err)
	}
	// A cancelled request reports the cancellation.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = v.Verify(ctx, walletAssertion(t, wallet, mustKey(t, key1Hex), true))
	if !errors.Is(err, ErrUnverifiable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestEncodeIsValidSignature(t *testing.T) {
	digest := common.HexToHash("0x01")
	got := encodeIsValidSignature(digest, []byte{0xaa, 0xbb})
	want := common.FromHex("0x1626ba7e" +
		"0000000000000000000000000000000000000000000000000000000000000001" +
		"0000000000000000000000000000000000000000000000000000000000000040" +
		"0000000000000000000000000000000000000000000000000000000000000002" +
		"aabb000000000000000000000000000000000000000000000000000000000000")
	if !strings.EqualFold(common.Bytes2Hex(got), common.Bytes2Hex(want)) {
		t.Fatalf("encoding\n got %x\nwant %x", got, want)
	}
}

// recordingChain claims every address is a contract that accepts every
// signature, and records the call it was asked.
type recordingChain struct{ call ethereum.CallMsg }

func (r *recordingChain) CodeAt(context.Context, common.Address, *big.Int) ([]byte, error) {
	return []byte{0x00}, nil
}

func (r *recordingChain) CallContract(_ context.Context, msg ethereum.CallMsg, _ *big.Int) ([]byte, error) {
	r.call = msg
	return common.RightPadBytes(erc1271Magic[:], 32), nil
}

func TestERC1271Call(t *testing.T) {
	wallet := common.HexToAddress("0x2222222222222222222222222222222222222222")
	for _, gas := range []uint64{0, 300_000} {
		chain := &recordingChain{}
		v := newVerifier(t, VerifierConfig{Chain: chain, ERC1271Gas: gas})
		jwt := walletAssertion(t, wallet, mustKey(t, key2Hex), true)
		a, err := v.Verify(t.Context(), jwt)
		if err != nil {
			t.Fatal(err)
		}
		want := gas
		if want == 0 {
			want = DefaultERC1271Gas
		}
		if chain.call.Gas != want || chain.call.To == nil || *chain.call.To != wallet {
			t.Fatalf("call gas %d to %v, want %d to %s", chain.call.Gas, chain.call.To, want, wallet.Hex())
		}
		// The wallet is asked about the EIP-712 digest with the raw signature.
		if got, want := chain.call.Data, encodeIsValidSignature(a.Digest(), a.Signature); string(got) != string(want) {
			t.Fatalf("call data %x, want %x", got, want)
		}
	}
}

package devchain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/node"
	"go.uber.org/goleak"

	"github.com/nvm-node/nvm-node/core/contracts"
	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
	"github.com/nvm-node/nvm-node/core/devchain"
)

// providerAddress is the reference node's provider account
// (testdata/reference/provider-keystore.json), funded like on their chain.
var providerAddress = common.HexToAddress("0x068Ed00cF0441e4829D9784fCBe7b9e26D4BD8d0")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-ethereum's process-wide sender cache, started once and never stopped.
		goleak.IgnoreTopFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
		// goleveldb drains its memory pool for up to a second after Close
		// (the p2p node database); it exits by itself.
		goleak.IgnoreTopFunction("github.com/syndtr/goleveldb/leveldb.(*DB).mpoolDrain"),
	)
}

func start(t *testing.T, cfg devchain.Config) *devchain.Chain {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := devchain.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("chain %d ready in %s (deployed=%v) at %s", c.ChainID(), c.ReadyIn().Round(time.Millisecond), c.Deployed(), c.RPCURL())
	return c
}

func closeChain(t *testing.T, c *devchain.Chain) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// rpcChainID asks eth_chainId over plain HTTP, as any client would.
func rpcChainID(t *testing.T, url string) uint64 {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Result hexutil.Uint64 `json:"result"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("eth_chainId answer %q: %v", body, err)
	}
	return uint64(out.Result)
}

type caller struct {
	t      *testing.T
	client *ethclient.Client
	set    *contracts.Set
	chain  *devchain.Chain
}

// call runs a view method and returns its outputs.
func (c caller) call(contract, method string, args ...any) []any {
	c.t.Helper()
	ct, err := c.set.Contract(contract)
	if err != nil {
		c.t.Fatal(err)
	}
	addr, err := c.chain.Address(contract)
	if err != nil {
		c.t.Fatal(err)
	}
	data, err := ct.ABI.Pack(method, args...)
	if err != nil {
		c.t.Fatalf("pack %s.%s: %v", contract, method, err)
	}
	out, err := c.client.CallContract(context.Background(), ethereum.CallMsg{To: &addr, Data: data}, nil)
	if err != nil {
		c.t.Fatalf("call %s.%s: %v", contract, method, err)
	}
	vals, err := ct.ABI.Unpack(method, out)
	if err != nil {
		c.t.Fatalf("unpack %s.%s: %v", contract, method, err)
	}
	return vals
}

// send signs and sends a call from acc over the HTTP RPC and waits for its
// receipt: the chain must mine it without anyone committing.
func (c caller) send(acc devchain.Account, contract, method string, args ...any) *types.Receipt {
	c.t.Helper()
	return c.sendValue(acc, nil, contract, method, args...)
}

// sendValue is send with ether attached.
func (c caller) sendValue(acc devchain.Account, value *big.Int, contract, method string, args ...any) *types.Receipt {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ct, _ := c.set.Contract(contract)
	addr, _ := c.chain.Address(contract)
	data, err := ct.ABI.Pack(method, args...)
	if err != nil {
		c.t.Fatalf("pack %s.%s: %v", contract, method, err)
	}
	nonce, err := c.client.PendingNonceAt(ctx, acc.Address)
	if err != nil {
		c.t.Fatal(err)
	}
	gas, err := c.client.EstimateGas(ctx, ethereum.CallMsg{From: acc.Address, To: &addr, Data: data, Value: value})
	if err != nil {
		c.t.Fatalf("estimate %s.%s: %v", contract, method, err)
	}
	tip, err := c.client.SuggestGasTipCap(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	chainID := new(big.Int).SetUint64(c.chain.ChainID())
	tx, err := types.SignNewTx(acc.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2))),
		Gas: gas * 12 / 10, To: &addr, Data: data, Value: value,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		c.t.Fatalf("send %s.%s: %v", contract, method, err)
	}
	r, err := c.chain.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		c.t.Fatalf("%s.%s not mined: %v", contract, method, err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		c.t.Fatalf("%s.%s reverted", contract, method)
	}
	return r
}

func TestDevChain(t *testing.T) {
	set := contractstest.Set(t)
	dir := t.TempDir()
	cfg := devchain.Config{DataDir: dir, Contracts: set, FundAccounts: []common.Address{providerAddress}}

	chain := start(t, cfg)
	if !chain.Deployed() {
		t.Fatal("first start did not deploy")
	}
	if got := rpcChainID(t, chain.RPCURL()); got != devchain.DefaultChainID {
		t.Fatalf("eth_chainId = %d, want %d", got, devchain.DefaultChainID)
	}
	if chain.NetworkName() != "spree" {
		t.Fatalf("network = %q", chain.NetworkName())
	}
	client, err := ethclient.Dial(chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	cl := caller{t: t, client: client, set: set, chain: chain}
	owner := chain.Owner()

	t.Run("artifacts", func(t *testing.T) {
		for _, spec := range contracts.Deployment() {
			path := filepath.Join(chain.ArtifactsDir(), spec.Name+".spree.json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var a devchain.Artifact
			if err := json.Unmarshal(data, &a); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			want, _ := chain.Address(spec.Name)
			if a.Name != spec.Name || a.Version != "v3.5.9" || a.Address != want.Hex() {
				t.Errorf("%s: name %q version %q address %s, want address %s", path, a.Name, a.Version, a.Address, want.Hex())
			}
			if _, err := abi.JSON(bytes.NewReader(a.ABI)); err != nil || len(a.ABI) < 10 {
				t.Errorf("%s: abi: %v", path, err)
			}
			code, err := client.CodeAt(ctx, common.HexToAddress(a.Address), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(code) == 0 {
				t.Errorf("no code at %s for %s", a.Address, spec.Name)
			}
		}
	})

	t.Run("wiring", func(t *testing.T) {
		for _, tmpl := range contracts.Templates() {
			addr, _ := chain.Address(tmpl)
			if ok := cl.call(contracts.TemplateStoreManager, "isTemplateApproved", addr)[0].(bool); !ok {
				t.Errorf("%s not approved", tmpl)
			}
			if !hasRole(cl, contracts.AgreementStoreManager, "PROXY_ROLE", addr) {
				t.Errorf("%s lacks the proxy role on AgreementStoreManager", tmpl)
			}
		}
		// The negative case, so the checks above can fail.
		if cl.call(contracts.TemplateStoreManager, "isTemplateApproved", owner.Address)[0].(bool) {
			t.Error("a random address is an approved template")
		}
		if hasRole(cl, contracts.AgreementStoreManager, "PROXY_ROLE", owner.Address) {
			t.Error("the owner has the proxy role")
		}
		for _, c := range contracts.ConditionProxies() {
			addr, _ := chain.Address(c)
			if !hasRole(cl, contracts.ConditionStoreManager, "PROXY_ROLE", addr) {
				t.Errorf("%s lacks the proxy role on ConditionStoreManager", c)
			}
		}
		asm, _ := chain.Address(contracts.AgreementStoreManager)
		for _, c := range contracts.AgreementProxyHolders() {
			if !hasRole(cl, c, "PROXY_ROLE", asm) {
				t.Errorf("AgreementStoreManager lacks the proxy role on %s", c)
			}
		}
		for _, nft := range []string{contracts.NFT1155Upgradeable, contracts.NFT721Upgradeable} {
			for _, op := range contracts.NFTOperators() {
				addr, _ := chain.Address(op)
				if !cl.call(nft, "isOperator", addr)[0].(bool) {
					t.Errorf("%s is not an operator of %s", op, nft)
				}
			}
		}
		std, _ := chain.Address(contracts.StandardRoyalties)
		if got := cl.call(contracts.DIDRegistry, "defaultRoyalties")[0].(common.Address); got != std {
			t.Errorf("default royalties = %s, want %s", got, std)
		}
		if !cl.call(contracts.DIDRegistry, "royaltiesCheckers", std)[0].(bool) {
			t.Error("StandardRoyalties is not a registered royalties checker")
		}
	})

	t.Run("funded", func(t *testing.T) {
		bal, err := client.BalanceAt(ctx, providerAddress, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bal.Cmp(new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18))) < 0 {
			t.Errorf("provider balance %s", bal)
		}
		for _, a := range chain.Accounts() {
			bal, err := client.BalanceAt(ctx, a.Address, nil)
			if err != nil {
				t.Fatal(err)
			}
			if bal.Sign() == 0 {
				t.Errorf("dev account %s has no ether", a.Address)
			}
		}
	})

	// A real transaction from a non-owner account, mined on arrival.
	registrant := chain.Accounts()[1]
	seed := crypto.Keccak256Hash([]byte("devchain test asset"))
	checksum := crypto.Keccak256Hash([]byte("checksum"))
	const url = "http://localhost/ddo"
	cl.send(registrant, contracts.DIDRegistry, "registerAttribute", seed, checksum, []common.Address{providerAddress}, url)
	did := cl.call(contracts.DIDRegistry, "hashDID", seed, registrant.Address)[0].([32]byte)
	if got := cl.call(contracts.DIDRegistry, "getDIDOwner", did)[0].(common.Address); got != registrant.Address {
		t.Fatalf("getDIDOwner = %s, want %s", got, registrant.Address)
	}
	reg := cl.call(contracts.DIDRegistry, "getDIDRegister", did)
	if reg[0].(common.Address) != registrant.Address || reg[2].(string) != url || common.Hash(reg[1].([32]byte)) != checksum {
		t.Fatalf("getDIDRegister = %v", reg)
	}

	// The event is found by eth_getLogs right after the receipt, as the
	// node's authorization reads AgreementCreated events (SPEC 4.4).
	regAddr, _ := chain.Address(contracts.DIDRegistry)
	regABI, _ := set.Contract(contracts.DIDRegistry)
	logs, err := client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(1),
		Addresses: []common.Address{regAddr},
		Topics:    [][]common.Hash{{regABI.ABI.Events["DIDAttributeRegistered"].ID}, {common.Hash(did)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 || common.BytesToAddress(logs[0].Topics[2].Bytes()) != registrant.Address {
		t.Fatalf("DIDAttributeRegistered logs = %+v", logs)
	}

	// NeverminedToken and Dispenser are wired: the dispenser mints on request.
	buyer := chain.Accounts()[2]
	before := cl.call(contracts.NeverminedToken, "balanceOf", buyer.Address)[0].(*big.Int)
	cl.send(buyer, contracts.Dispenser, "requestTokens", big.NewInt(100))
	after := cl.call(contracts.NeverminedToken, "balanceOf", buyer.Address)[0].(*big.Int)
	if minted := new(big.Int).Sub(after, before); minted.Cmp(new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))) != 0 {
		t.Errorf("dispenser minted %s NVM wei, want 100e18", minted)
	}

	// A transaction with the smallest tip the pool accepts is mined too (a
	// gap between pool and miner floors would stall it and spin the beacon).
	cheap := chain.Accounts()[3]
	if r := sendRaw(t, client, chain, cheap, &providerAddress, big.NewInt(1)); r.Status != types.ReceiptStatusSuccessful {
		t.Error("1-wei-tip transfer failed")
	}

	ownerNonce, err := client.NonceAt(ctx, owner.Address, nil)
	if err != nil {
		t.Fatal(err)
	}
	head, err := client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addrs := chain.Addresses()
	client.Close()
	closeChain(t, chain)
	if err := chain.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// Restart on the same data directory, on a fixed port this time, and
	// with one more account to fund.
	extra := common.HexToAddress("0x00000000000000000000000000000000000000e1")
	cfg.FundAccounts = append(cfg.FundAccounts, extra)
	cfg.HTTPAddr = freeLoopbackAddr(t)
	chain = start(t, cfg)
	defer closeChain(t, chain)
	if chain.RPCURL() != "http://"+cfg.HTTPAddr {
		t.Errorf("RPCURL = %s, configured %s", chain.RPCURL(), cfg.HTTPAddr)
	}
	if chain.Deployed() {
		t.Fatal("restart redeployed the contracts")
	}
	for name, a := range chain.Addresses() {
		if addrs[name] != a {
			t.Errorf("%s moved from %s to %s", name, addrs[name], a)
		}
	}
	client, err = ethclient.Dial(chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cl = caller{t: t, client: client, set: set, chain: chain}
	if n, _ := client.NonceAt(ctx, owner.Address, nil); n != ownerNonce+1 {
		// One transaction since: the transfer funding the extra account.
		t.Errorf("owner nonce after restart = %d, want %d", n, ownerNonce+1)
	}
	if h, _ := client.BlockNumber(ctx); h < head {
		t.Errorf("head went back from %d to %d", head, h)
	}
	if got := cl.call(contracts.DIDRegistry, "getDIDOwner", did)[0].(common.Address); got != registrant.Address {
		t.Errorf("after restart getDIDOwner = %s, want %s", got, registrant.Address)
	}
	if bal, _ := client.BalanceAt(ctx, extra, nil); bal.Sign() == 0 {
		t.Error("extra account not funded on restart")
	}
	if _, err := os.Stat(filepath.Join(chain.ArtifactsDir(), "DIDRegistry.spree.json")); err != nil {
		t.Error(err)
	}
}

// crashChildEnv makes the test binary act as a dev chain process that is
// killed: it registers a DID, reports it, and exits without Close.
const crashChildEnv = "DEVCHAIN_TEST_CRASH_DIR"

func TestCrashKeepsChain(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	set := contractstest.Set(t)
	path := contractstest.Path(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsChain$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, contracts.EnvDir+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	didHex, err := os.ReadFile(filepath.Join(dir, "did"))
	if err != nil {
		t.Fatalf("child left no DID: %v\n%s", err, out)
	}
	did := common.HexToHash(string(didHex))

	chain := start(t, devchain.Config{DataDir: dir, Contracts: set})
	defer closeChain(t, chain)
	if chain.Deployed() {
		t.Fatal("the contracts were redeployed after a crash")
	}
	client, err := ethclient.Dial(chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cl := caller{t: t, client: client, set: set, chain: chain}
	if got := cl.call(contracts.DIDRegistry, "getDIDOwner", did)[0].(common.Address); got != chain.Accounts()[1].Address {
		t.Fatalf("after a crash getDIDOwner = %s, want %s", got, chain.Accounts()[1].Address)
	}
}

func crashChild(t *testing.T, dir string) {
	set := contractstest.Set(t)
	chain := start(t, devchain.Config{DataDir: dir, Contracts: set})
	client, err := ethclient.Dial(chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	cl := caller{t: t, client: client, set: set, chain: chain}
	acc := chain.Accounts()[1]
	seed := crypto.Keccak256Hash([]byte("crash test"))
	cl.send(acc, contracts.DIDRegistry, "registerAttribute", seed, seed, []common.Address{}, "u")
	did := common.Hash(cl.call(contracts.DIDRegistry, "hashDID", seed, acc.Address)[0].([32]byte))
	if err := os.WriteFile(filepath.Join(dir, "did"), []byte(did.Hex()), 0o644); err != nil {
		t.Fatal(err)
	}
	// go-ethereum writes to pebble without fsync and pebble's WAL flusher
	// runs in the background, so the last milliseconds of blocks may be lost
	// to a kill; a process killed a moment after its last block keeps it.
	time.Sleep(time.Second)
	os.Exit(0) // no Close: what a killed process leaves behind
}

// sendRaw sends a plain ether transfer of 1 wei with the given tip and waits
// for it to be mined.
func sendRaw(t *testing.T, client *ethclient.Client, chain *devchain.Chain, from devchain.Account, to *common.Address, tip *big.Int) *types.Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nonce, err := client.PendingNonceAt(ctx, from.Address)
	if err != nil {
		t.Fatal(err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	chainID := new(big.Int).SetUint64(chain.ChainID())
	tx, err := types.SignNewTx(from.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2))),
		Gas: 21000, To: to, Value: big.NewInt(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := client.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			return r
		}
		if !errors.Is(err, ethereum.NotFound) && !devchain.IsTxIndexing(err) {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("transfer with tip %s not mined: %v", tip, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func hasRole(cl caller, contract, role string, who common.Address) bool {
	cl.t.Helper()
	return cl.call(contract, "hasRole", crypto.Keccak256Hash([]byte(role)), who)[0].(bool)
}

func TestChainIDAndRedeploy(t *testing.T) {
	set := contractstest.Set(t)
	dir := t.TempDir()
	cfg := devchain.Config{DataDir: dir, Contracts: set, ChainID: 1337}
	chain := start(t, cfg)
	if got := rpcChainID(t, chain.RPCURL()); got != 1337 {
		t.Errorf("eth_chainId = %d, want 1337", got)
	}
	if _, err := os.Stat(filepath.Join(chain.ArtifactsDir(), "DIDRegistry.geth-localnet.json")); err != nil {
		t.Error(err)
	}
	old, _ := chain.Address(contracts.DIDRegistry)

	// A second chain on a data directory in use is refused.
	ctx := context.Background()
	if c, err := devchain.Start(ctx, cfg); err == nil {
		closeChain(t, c)
		t.Fatal("two chains opened the same data directory")
	} else if !errors.Is(err, node.ErrDatadirUsed) {
		t.Errorf("second Start on a busy data directory: %v, want ErrDatadirUsed", err)
	}
	closeChain(t, chain)

	// Another chain id on the same data directory is refused.
	if c, err := devchain.Start(ctx, devchain.Config{DataDir: dir, Contracts: set, ChainID: 8996}); err == nil {
		closeChain(t, c)
		t.Fatal("Start accepted a data directory of another chain id")
	}

	// A record that does not match the chain makes Start deploy again.
	recPath := filepath.Join(dir, "deployment.json")
	data, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	rec["codeDigest"] = "stale"
	data, _ = json.Marshal(rec)
	if err := os.WriteFile(recPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	chain = start(t, cfg)
	defer closeChain(t, chain)
	if !chain.Deployed() {
		t.Fatal("stale record was trusted")
	}
	if now, _ := chain.Address(contracts.DIDRegistry); now == old {
		t.Errorf("redeployment reused address %s", now)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	set := contractstest.Set(t)
	empty, err := contracts.Parse([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  devchain.Config
		want string
	}{
		{"no data dir", devchain.Config{Contracts: set}, "DataDir is required"},
		{"no contracts", devchain.Config{DataDir: t.TempDir()}, "Contracts is required"},
		{"unknown network", devchain.Config{DataDir: t.TempDir(), Contracts: set, ChainID: 424242}, "unknown network"},
		{"public address", devchain.Config{DataDir: t.TempDir(), Contracts: set, HTTPAddr: "0.0.0.0:0"}, "loopback"},
		{"lan address", devchain.Config{DataDir: t.TempDir(), Contracts: set, HTTPAddr: "10.1.2.3:8545"}, "loopback"},
		{"bad address", devchain.Config{DataDir: t.TempDir(), Contracts: set, HTTPAddr: "nope"}, "HTTPAddr"},
		{"bad port", devchain.Config{DataDir: t.TempDir(), Contracts: set, HTTPAddr: "127.0.0.1:99999"}, "bad port"},
		{"negative accounts", devchain.Config{DataDir: t.TempDir(), Contracts: set, DevAccounts: -1}, "DevAccounts"},
		{"empty set", devchain.Config{DataDir: t.TempDir(), Contracts: empty}, "unknown contract"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := devchain.Start(ctx, tc.cfg)
			if err == nil {
				closeChain(t, c)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	_, err = devchain.Start(ctx, devchain.Config{DataDir: t.TempDir(), Contracts: set, ChainID: 424242})
	if !errors.Is(err, contracts.ErrUnknownNetwork) {
		t.Errorf("unknown chain id error = %v", err)
	}
}

func TestDevAccountsDeterministic(t *testing.T) {
	a, err := devchain.DevAccounts(3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := devchain.DevAccounts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[common.Address]bool{}
	for i := range a {
		if a[i].Address != b[i].Address || a[i].KeyHex() != b[i].KeyHex() {
			t.Errorf("account %d differs between calls", i)
		}
		if crypto.PubkeyToAddress(a[i].Key.PublicKey) != a[i].Address {
			t.Errorf("account %d key does not match address", i)
		}
		if seen[a[i].Address] {
			t.Errorf("account %d repeats", i)
		}
		seen[a[i].Address] = true
		if s := fmt.Sprint(a[i]); s != a[i].Address.Hex() {
			t.Errorf("Account prints as %q", s)
		}
	}
}

func TestIsTxIndexing(t *testing.T) {
	if !devchain.IsTxIndexing(fmt.Errorf("receipt: %w", errors.New("transaction indexing is in progress"))) {
		t.Error("indexing error not recognised")
	}
	for _, err := range []error{nil, ethereum.NotFound, errors.New("execution reverted")} {
		if devchain.IsTxIndexing(err) {
			t.Errorf("IsTxIndexing(%v) = true", err)
		}
	}
}

package chain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
)

// fakeRPC is a JSON-RPC server whose answers a test scripts per method, to
// reach the failure modes a dev chain does not produce on demand.
type fakeRPC struct {
	status  atomic.Int32 // HTTP status to answer with; 0 means 200
	handler func(method string, params json.RawMessage) (any, *rpcErr)
}

type rpcErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data,omitempty"`
}

func (f *fakeRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s := f.status.Load(); s != 0 {
		http.Error(w, "busy", int(s))
		return
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, e := f.handler(req.Method, req.Params)
	out := map[string]any{"jsonrpc": "2.0", "id": req.ID}
	if e != nil {
		out["error"] = e
	} else {
		out["result"] = res
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// fakeArtifacts writes minimal artifacts for network spree.
func fakeArtifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	abis := map[string]string{
		"ConditionStoreManager": `[{"type":"function","name":"getConditionState","stateMutability":"view","inputs":[{"name":"_id","type":"bytes32"}],"outputs":[{"name":"","type":"uint8"}]}]`,
		"AgreementStoreManager": `[]`,
		"DIDRegistry":           `[]`,
	}
	for i, name := range []string{"ConditionStoreManager", "AgreementStoreManager", "DIDRegistry"} {
		data := fmt.Sprintf(`{"name":%q,"abi":%s,"address":"0x%040x","version":"v3.5.9"}`, name, abis[name], i+1)
		if err := os.WriteFile(filepath.Join(dir, name+".spree.json"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func dialFake(t *testing.T, f *fakeRPC, path string) (*chain.Client, string) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	url := srv.URL + path
	c, err := chain.Dial(context.Background(), chain.Config{RPCURL: url, ChainID: 8996, Network: "spree",
		ArtifactsFolder: fakeArtifacts(t), ReceiptPoll: time.Millisecond, CallTimeout: 2 * time.Second, ReceiptTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, url
}

// TestErrorKinds: transport failures and overloaded RPCs are ErrUnavailable,
// reverts are ErrReverted, and the RPC URL's secret never shows.
func TestErrorKinds(t *testing.T) {
	const secret = "s3cr3t-api-key"
	f := &fakeRPC{}
	var answer atomic.Value
	f.handler = func(method string, _ json.RawMessage) (any, *rpcErr) {
		if e, ok := answer.Load().(*rpcErr); ok && e != nil {
			return nil, e
		}
		return "0x" + strings.Repeat("0", 63) + "2", nil
	}
	c, url := dialFake(t, f, "/v3/"+secret)
	ctx := context.Background()
	id := common.HexToHash("0x01")

	st, err := c.ConditionState(ctx, id)
	if err != nil || st != chain.StateFulfilled {
		t.Fatalf("state %s, %v", st, err)
	}
	id2 := common.HexToHash("0x02")
	for _, tc := range []struct {
		name   string
		status int
		answer *rpcErr
		want   error
	}{
		{"rate limited", http.StatusTooManyRequests, nil, chain.ErrUnavailable},
		{"bad gateway", http.StatusBadGateway, nil, chain.ErrUnavailable},
		{"node internal error", 0, &rpcErr{Code: -32000, Message: "header not found"}, chain.ErrUnavailable},
		{"revert", 0, &rpcErr{Code: 3, Message: "execution reverted: nope", Data: "0x08c379a0"}, chain.ErrReverted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.status.Store(int32(tc.status))
			answer.Store(tc.answer)
			defer f.status.Store(0)
			_, err := c.ConditionState(ctx, id2)
			mustErrIs(t, err, tc.want)
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the RPC URL's secret: %v", err)
			}
		})
	}
	answer.Store((*rpcErr)(nil))
	// A fulfilled state is cached: read with the RPC down.
	f.status.Store(http.StatusServiceUnavailable)
	if st, err := c.ConditionState(ctx, id); err != nil || st != chain.StateFulfilled {
		t.Fatalf("cached state %s, %v", st, err)
	}
	f.status.Store(0)

	// Transport failure: the server is gone.
	srvURL := strings.TrimSuffix(url, "/v3/"+secret)
	gone, err := chain.Dial(ctx, chain.Config{RPCURL: srvURL + "/gone/" + secret, ChainID: 8996, Network: "spree", ArtifactsFolder: fakeArtifacts(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	f.handler = func(string, json.RawMessage) (any, *rpcErr) { panic(http.ErrAbortHandler) }
	_, err = gone.ConditionState(ctx, id2)
	mustErrIs(t, err, chain.ErrUnavailable)
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error shows the RPC URL's secret: %v", err)
	}
}

// TestWaitReceiptIndexing: go-ethereum's "transaction indexing is in
// progress" answer means "not yet", like a missing receipt.
func TestWaitReceiptIndexing(t *testing.T) {
	var calls, heads atomic.Int32
	hash := common.HexToHash("0xabc")
	f := &fakeRPC{handler: func(method string, _ json.RawMessage) (any, *rpcErr) {
		if method == "eth_blockNumber" {
			// The head reaches the receipt's block (7) only on the second ask:
			// a receipt is not final until the latest state includes it.
			if heads.Add(1) == 1 {
				return "0x6", nil
			}
			return "0x7", nil
		}
		if method != "eth_getTransactionReceipt" {
			return nil, &rpcErr{Code: -32601, Message: "no " + method}
		}
		switch n := calls.Add(1); {
		case n <= 3:
			return nil, &rpcErr{Code: -32000, Message: "transaction indexing is in progress"}
		case n <= 5:
			return nil, nil // null: not found
		}
		return map[string]any{
			"transactionHash": hash, "status": "0x1", "cumulativeGasUsed": "0x5208", "gasUsed": "0x5208",
			"logs": []any{}, "logsBloom": "0x" + strings.Repeat("00", 256), "blockNumber": "0x7",
			"blockHash": common.HexToHash("0x1234"), "transactionIndex": "0x0", "type": "0x2",
		}, nil
	}}
	c, _ := dialFake(t, f, "")
	r, err := c.WaitReceipt(context.Background(), hash)
	if err != nil {
		t.Fatalf("WaitReceipt: %v", err)
	}
	if r.TxHash != hash || r.BlockNumber.Uint64() != 7 || calls.Load() != 7 || heads.Load() != 2 {
		t.Fatalf("receipt %+v after %d receipt and %d head calls", r, calls.Load(), heads.Load())
	}

	// A receipt lookup that keeps failing gives up as ErrUnavailable well
	// before the receipt timeout.
	f.status.Store(http.StatusBadGateway)
	_, err = c.WaitReceipt(context.Background(), hash)
	mustErrIs(t, err, chain.ErrUnavailable)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waited for the whole timeout: %v", err)
	}
}

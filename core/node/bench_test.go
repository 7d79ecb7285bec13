package node_test

import (
	"context"
	"io"
	"math/big"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
)

// BenchmarkTokenAlreadyFulfilled measures POST oauth/token for an access
// agreement whose conditions are already fulfilled (the common case after
// the first token), through HTTP against a node on the dev chain. Each
// request carries a fresh signed assertion (signing is outside the timer).
func BenchmarkTokenAlreadyFulfilled(b *testing.B) {
	e := newE2EB(b)
	ctx := context.Background()
	price := chain.Price{Amounts: []*big.Int{big.NewInt(1e15)}, Receivers: []common.Address{e.publisher.Address}}
	did := e.publish(price)
	paid, err := e.client.OrderAccess(ctx, e.client.NewSender(e.consumer.Key), randomHash(), did, price)
	if err != nil {
		b.Fatal(err)
	}
	claims := func() map[string]any {
		return map[string]any{"aud": auth.AudienceAccess, "sub": paid.ID.Hex(), "did": didClaim(did)}
	}
	if code, body := e.token(e.consumer.Key, claims()); code != 201 {
		b.Fatalf("first token: %d %v", code, body)
	}
	forms := make([]string, b.N)
	for i := range forms {
		forms[i] = string(assertionForm(e.t, e.consumer.Key, claims()))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		code, _ := e.postStatus("/api/v1/node/services/oauth/token", "application/x-www-form-urlencoded", forms[i], "")
		lat = append(lat, time.Since(start))
		if code != 201 {
			b.Fatalf("token %d: %d", i, code)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkDownloadTTFB measures the time to the first byte of a download
// (token check, DDO from the cache, file list decryption, upstream fetch).
func BenchmarkDownloadTTFB(b *testing.B) {
	e := newE2EB(b)
	did := e.publish(chain.Price{Amounts: []*big.Int{big.NewInt(1)}, Receivers: []common.Address{e.publisher.Address}})
	code, tok := e.token(e.publisher.Key, map[string]any{"aud": auth.AudienceDownload, "did": didClaim(did)})
	if code != 201 {
		b.Fatalf("token: %d %v", code, tok)
	}
	token := tok["access_token"].(string)
	lat := make([]time.Duration, 0, b.N)
	buf := make([]byte, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", e.node.url+"/api/v1/node/services/download/0", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, buf); err != nil || resp.StatusCode != 200 {
			b.Fatalf("download: %d %v", resp.StatusCode, err)
		}
		lat = append(lat, time.Since(start))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

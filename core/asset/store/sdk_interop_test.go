package store

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// The SDK interop test runs ../testdata/sdk-interop/metadata.cjs with node:
// the official SDK 3.1.2 metadata client publishes to, reads, updates,
// searches and deletes from this store over HTTP. CI installs the npm side
// with: npm ci --prefix core/asset/testdata/sdk-interop

const sdkDir = "../testdata/sdk-interop"

func requireSDK(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but "+format, args...)
		}
		t.Skipf(format+" (set CI=true to make this a failure)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@nevermined-io", "sdk", "package.json")); err != nil {
		missing("@nevermined-io/sdk is not installed; run: npm ci --prefix core/asset/testdata/sdk-interop")
	}
	return node
}

func TestSDKInterop(t *testing.T) {
	node := requireSDK(t)
	s, _ := openStore(t, Options{})
	srv := httptest.NewServer(s.Handler(HandlerOptions{Guard: AllowAll{}}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fixturePath, _ := filepath.Abs(filepath.Join("..", "testdata", "ddo-nft1155.json"))
	cmd := exec.CommandContext(ctx, node, "metadata.cjs", srv.URL, fixturePath)
	cmd.Dir = sdkDir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got struct {
		TokenSub       string `json:"tokenSub"`
		StoredID       string `json:"storedId"`
		StoredServices int    `json:"storedServices"`
		Duplicate      string `json:"duplicate"`
		RetrievedSame  bool   `json:"retrievedSame"`
		UpdatedName    string `json:"updatedName"`
		Query          struct {
			N, Page, TotalPages, Total int
			FirstIsDDO                 bool
		} `json:"query"`
		ByText        int    `json:"byText"`
		OtherApp      int    `json:"otherApp"`
		ProfileUserID string `json:"profileUserId"`
		DeleteStatus  int    `json:"deleteStatus"`
		AfterDelete   string `json:"afterDelete"`
	}
	// The SDK's dependencies print warnings on stdout; the result is the
	// last line.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	out = []byte(lines[len(lines)-1])
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	d := fixtureDDO(t, "ddo-nft1155.json")
	user := UserIDForAddress(common.HexToAddress(owner1))
	checks := []struct {
		name string
		ok   bool
	}{
		{"login token sub is the user id", got.TokenSub == user},
		{"storeDDO returns the DDO", got.StoredID == d.ID.String() && got.StoredServices == 4},
		{"second storeDDO fails with 409", strings.Contains(got.Duplicate, "409")},
		{"retrieveDDO round-trips", got.RetrievedSame},
		{"updateDDO returns the update", got.UpdatedName == "renamed by the SDK"},
		{"queryMetadata shape", got.Query.N == 1 && got.Query.Page == 1 && got.Query.TotalPages == 1 && got.Query.Total == 1 && got.Query.FirstIsDDO},
		{"SearchApi.byText finds the renamed asset", got.ByText == 1},
		{"SearchApi appId filter", got.OtherApp == 0},
		{"profiles.findOneByAddress", got.ProfileUserID == user},
		{"delete answers 200", got.DeleteStatus == 200},
		{"retrieve after delete fails with 404", strings.Contains(got.AfterDelete, "404")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: script saw %s", c.name, out)
		}
	}
	if n, _ := s.Count(context.Background()); n != 0 {
		t.Errorf("store holds %d DDOs after the SDK deleted its asset", n)
	}
}

package authz

import (
	"math/big"
	"os"
	"testing"

	"github.com/nvm-node/nvm-node/core/asset"
)

func fixture(t *testing.T, name string) *asset.DDO {
	t.Helper()
	b, err := os.ReadFile("../asset/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := asset.DecodeDDO(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAccessPrice reads the escrow amounts and receivers and the lock's token
// from the access service, as SPEC 4.3 says the node does.
func TestAccessPrice(t *testing.T) {
	p, err := accessPrice(fixture(t, "ddo-access.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"9500000000000000000", "500000000000000000"}
	if len(p.Amounts) != 2 || p.Amounts[0].String() != want[0] || p.Amounts[1].String() != want[1] {
		t.Fatalf("amounts %v", p.Amounts)
	}
	if p.Receivers[0].Hex() != "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1" || p.Token.Hex() != "0xebcAE7E8DD97E589aE7F077e9f6B61c9e977bad1" {
		t.Fatalf("price %+v", p)
	}
	if _, err := accessPrice(fixture(t, "ddo-nft721.json")); err == nil {
		t.Fatal("an asset without an access service has a price")
	}
}

// TestCreditsToCharge follows the SDK's getCreditsToCharge: the amount, or
// minCreditsToCharge when larger; nothing when the amount is zero.
func TestCreditsToCharge(t *testing.T) {
	svc, err := fixture(t, "ddo-nft1155.json").ServiceByType("nft-access")
	if err != nil {
		t.Fatal(err)
	}
	if got := creditsToCharge(svc); got.Cmp(big.NewInt(2)) != 0 {
		t.Fatalf("fixture credits %s, want 2", got)
	}
	a := svc.Attributes.Main.NFTAttributes
	for _, c := range []struct {
		amount, min string
		want        int64
	}{{"3", "5", 5}, {"5", "3", 5}, {"0", "5", 0}, {"4", "", 4}} {
		if err := a.Amount.UnmarshalJSON([]byte(`"` + c.amount + `"`)); err != nil {
			t.Fatal(err)
		}
		min := `"` + c.min + `"`
		if c.min == "" {
			min = "null"
		}
		if err := a.MinCreditsToCharge.UnmarshalJSON([]byte(min)); err != nil {
			t.Fatal(err)
		}
		if got := creditsToCharge(svc); got.Int64() != c.want {
			t.Errorf("amount %s min %s: %s, want %d", c.amount, c.min, got, c.want)
		}
	}
}

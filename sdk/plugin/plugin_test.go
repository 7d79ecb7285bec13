package plugin

import (
	"errors"
	"testing"
)

func TestConfigDecode(t *testing.T) {
	type cfg struct {
		Root string `json:"root"`
	}
	var c cfg
	if err := Config(`{"root":"/data"}`).Decode(&c); err != nil || c.Root != "/data" {
		t.Fatalf("Decode = %v, %+v", err, c)
	}
	if err := Config(nil).Decode(&c); err != nil || c.Root != "/data" {
		t.Fatalf("empty Decode = %v, %+v", err, c)
	}
	for _, bad := range []string{`{"roots":"x"}`, `{"root":1}`, `{"root":"a"} {}`, `[`} {
		if err := Config(bad).Decode(&c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Decode(%s) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestInfoValidate(t *testing.T) {
	ok := Info{Kind: KindStorage, Name: "local", APIVersion: 1}
	if err := ok.Validate(); err != nil || ok.ID() != "storage.local" {
		t.Fatalf("Validate = %v, ID = %q", err, ok.ID())
	}
	for _, bad := range []Info{
		{Kind: "db", Name: "x", APIVersion: 1},
		{Kind: KindCompute, Name: "X", APIVersion: 1},
		{Kind: KindCompute, Name: "", APIVersion: 1},
		{Kind: KindCompute, Name: "wasm", APIVersion: 0},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

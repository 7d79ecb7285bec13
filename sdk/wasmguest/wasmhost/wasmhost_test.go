package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// module assembles a tiny WebAssembly module by hand: one function
// returning version, exported as name when name is not empty.
func module(name string, version byte) []byte {
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	b = append(b, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f) // type: () -> i32
	b = append(b, 0x03, 0x02, 0x01, 0x00)                   // one function of that type
	if name != "" {
		b = append(b, 0x07, byte(4+len(name)), 0x01, byte(len(name)))
		b = append(b, name...)
		b = append(b, 0x00, 0x00)
	}
	// code: i32.const version (two-byte signed LEB128), end
	return append(b, 0x0a, 0x07, 0x01, 0x05, 0x00, 0x41, 0x80|version, 0x00, 0x0b)
}

func open(t *testing.T, code []byte) error {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	cm, err := rt.CompileModule(ctx, code)
	if err != nil {
		rt.Close(ctx)
		t.Fatal(err)
	}
	var closed bool
	s, err := Open(ctx, Config{
		ID: "storage.test",
		Instantiate: func(ctx context.Context) (api.Module, error) {
			return rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
		},
		OnClose: func() { closed = true; rt.Close(ctx) },
	})
	if err == nil {
		s.Close(ctx)
		t.Fatal("Open succeeded")
	}
	if !closed {
		t.Error("a failed Open did not run OnClose")
	}
	return err
}

func TestOpenRefuses(t *testing.T) {
	err := open(t, module("nvm_abi_version", 99))
	var ve *VersionError
	if !errors.As(err, &ve) || ve.PluginVersion != 99 || ve.NodeVersion != ABIVersion {
		t.Errorf("ABI version 99: %v, want a VersionError", err)
	}
	for _, want := range []string{"storage.test", "version 99 of the wasm plugin ABI", "rebuild the module"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if err := open(t, module("other", 1)); !strings.Contains(err.Error(), "not an nvm-node plugin") {
		t.Errorf("module without the version export: %v", err)
	}
	if err := open(t, module("nvm_abi_version", 1)); !strings.Contains(err.Error(), "lacks nvm_buffer, nvm_call") {
		t.Errorf("module with the version only: %v", err)
	}
}

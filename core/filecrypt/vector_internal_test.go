package filecrypt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
)

// TestVectors checks objects built with a fixed salt against vectors made
// by testdata/vectors.py, an implementation in Python written from
// FORMAT.md alone: the two agree on the layout, key derivation and nonces.
func TestVectors(t *testing.T) {
	const password = "nvm-aead-v1 test vector password (not secret)"
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		return b
	}
	header := []byte("NVM-AEAD\x01\x00\x00\x00\x00\x01\x00\x00")
	for i := range 32 {
		header = append(header, byte(i))
	}
	for _, v := range []struct {
		name   string
		plain  []byte
		size   int
		sha256 string
		hex    string
	}{
		{"empty", nil, 64, "4a819a70755e30fd6491af04a0e21bb66dec6fdd6844223ddbd6cd85ed0850a4",
			"4e564d2d414541440100000000010000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f3b26b69bff1a6abbb20dd8b2c572d423"},
		{"hello", []byte("hello, nevermined"), 81, "2923ad8b27a432b42c2fe75b529b92d3573ec9257ab2404c9451baed2fedabcb",
			"4e564d2d414541440100000000010000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f5775fbe38fb78cae67ded04806bb444caa66350673aabe2cbef903d818a4d723ea"},
		{"two chunks", pattern(chunkSize + 5), 65621, "7094bc4f8c00ce1ba87f6542c05de3dea83565589b63280571447cbdd6c5e7d9", ""},
		{"exactly one chunk", pattern(chunkSize), 65600, "6b2ca9e94c7d3a05e08e1841d156205b77c3b80b9435862e9606ae2ce973b383", ""},
	} {
		var out bytes.Buffer
		w, err := newWriter(&out, password, bytes.Clone(header))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(v.plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(out.Bytes())
		if out.Len() != v.size || hex.EncodeToString(sum[:]) != v.sha256 {
			t.Errorf("%s: %d bytes, sha256 %x; want %d, %s", v.name, out.Len(), sum, v.size, v.sha256)
		}
		if v.hex != "" && hex.EncodeToString(out.Bytes()) != v.hex {
			t.Errorf("%s: %x", v.name, out.Bytes())
		}
		r, err := NewReader(bytes.NewReader(out.Bytes()), password)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, v.plain) {
			t.Errorf("%s: reading the vector: %v", v.name, err)
		}
	}
}

package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestDecryptPSKRSAReferenceVectors(t *testing.T) {
	priv := refRSAKey(t)
	for _, v := range pskRSAVectors(t) {
		t.Run(v.Label, func(t *testing.T) {
			got, err := DecryptPSKRSA(priv, v.Hash)
			if err != nil {
				t.Fatal(err)
			}
			want := []byte(v.ReferenceDecryptsTo)
			if v.ReferenceLatin1Hex != "" {
				// The reference decrypted to latin1 text; compare its bytes.
				if want, err = hex.DecodeString(v.ReferenceLatin1Hex); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decrypted %q, want %q", got, want)
			}
			if v.RoundtripEqual && string(got) != v.Plaintext {
				t.Fatalf("decrypted %q, want the plaintext %q", got, v.Plaintext)
			}
		})
	}
}

// The reference encrypts ASCII exactly as this package does, so the hash parts
// must have the same lengths as the reference's for the same plaintext.
func TestEncryptPSKRSAStructureMatchesReference(t *testing.T) {
	priv := refRSAKey(t)
	for _, v := range pskRSAVectors(t) {
		if !v.RoundtripEqual {
			continue // non-ASCII: the reference encrypts latin1, this package UTF-8
		}
		hash, err := EncryptPSKRSA(&priv.PublicKey, []byte(v.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		left, right, _ := strings.Cut(hash, "|")
		if len(left) != v.Structure.LeftHexChars || len(right) != v.Structure.RightHexChars {
			t.Errorf("%s: parts are %d|%d hex chars, reference %d|%d", v.Label, len(left), len(right), v.Structure.LeftHexChars, v.Structure.RightHexChars)
		}
		if hash != strings.ToLower(hash) {
			t.Errorf("%s: hash is not lower-case hex", v.Label)
		}
		got, err := DecryptPSKRSA(priv, hash)
		if err != nil || string(got) != v.Plaintext {
			t.Errorf("%s: round trip gave %q, %v", v.Label, got, err)
		}
	}
}

func TestPSKRSARoundTrip(t *testing.T) {
	priv := refRSAKey(t)
	random := make([]byte, 4096)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	msgs := [][]byte{nil, []byte("café 日本"), random}
	for n := 1; n <= 49; n++ {
		msgs = append(msgs, random[:n])
	}
	seen := map[string]bool{}
	for _, msg := range msgs {
		hash, err := EncryptPSKRSA(&priv.PublicKey, msg)
		if err != nil {
			t.Fatal(err)
		}
		if seen[hash] {
			t.Fatal("two encryptions produced the same hash")
		}
		seen[hash] = true
		got, err := DecryptPSKRSA(priv, hash)
		if err != nil {
			t.Fatalf("len %d: %v", len(msg), err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("len %d: round trip mismatch", len(msg))
		}
	}
}

// sealPSKRSA builds a PSK-RSA hash from chosen parts, without any padding, so
// tests can make well-encrypted payloads that are malformed inside.
func sealPSKRSA(t *testing.T, pub *rsa.PublicKey, secret, plain []byte) string {
	t.Helper()
	iv := make([]byte, aes.BlockSize)
	block, err := pskRSACipher(secret)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, aes.BlockSize+len(plain))
	copy(raw, iv)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(raw[aes.BlockSize:], plain)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString([]byte(base64.StdEncoding.EncodeToString(raw))) + "|" + hex.EncodeToString(wrapped)
}

func TestDecryptPSKRSAMalformed(t *testing.T) {
	priv := refRSAKey(t)
	pub := &priv.PublicKey
	other, err := GenerateRSAKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := pskRSAVectors(t)[1].Hash // "hello"
	left, right, _ := strings.Cut(valid, "|")
	b64, _ := hex.DecodeString(left)
	raw, _ := base64.StdEncoding.DecodeString(string(b64))
	hexB64 := func(b []byte) string { return hex.EncodeToString([]byte(base64.StdEncoding.EncodeToString(b))) }
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	secret := bytes.Repeat([]byte{7}, 16)
	block := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
	wrap := func(s []byte) string {
		w, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(w)
	}

	cases := map[string]string{
		"empty":                "",
		"no separator":         left + right,
		"only separator":       "|",
		"left not hex":         "zz" + left[2:] + "|" + right,
		"left odd hex":         left[1:] + "|" + right,
		"right not hex":        left + "|" + "zz" + right[2:],
		"left not base64":      hex.EncodeToString([]byte("!!!!")) + "|" + right,
		"left base64 unpadded": hex.EncodeToString([]byte(strings.TrimRight(string(b64), "="))) + "x|" + right,
		"data not whole block": hexB64(raw[:len(raw)-1]) + "|" + right,
		"data too short":       hexB64(raw[:32]) + "|" + right,
		"data empty":           "|" + right,
		"key part short":       left + "|" + right[:len(right)-2],
		"key part long":        left + "|" + right + "00",
		"key part empty":       left + "|",
		"second separator":     left + "|" + right + "|" + right,
		"truncated":            valid[:len(valid)/2],
		"key part tampered":    left + "|" + hex.EncodeToString(flip(mustHex(t, right), 5)),
		"last block tampered":  hexB64(flip(raw, len(raw)-1)) + "|" + right,
		"wrong secret":         left + "|" + wrap(bytes.Repeat([]byte{0x42}, 16)),
		"made for other key":   mustEncrypt(t, &other.PublicKey, []byte("hello")),
		"secret 15 bytes":      strings.SplitN(sealPSKRSA(t, pub, secret, append(block(16), block(16)...)), "|", 2)[0] + "|" + wrap(secret[:15]),
		"outer pad zero":       sealPSKRSA(t, pub, secret, append(block(16), block(0)...)),
		"outer pad 17":         sealPSKRSA(t, pub, secret, append(block(16), block(17)...)),
		"outer pad not 16":     sealPSKRSA(t, pub, secret, append(block(16), block(4)...)),
		"outer pad mixed":      sealPSKRSA(t, pub, secret, append(block(16), append(bytes.Repeat([]byte{1}, 15), 16)...)),
		"inner pad zero":       sealPSKRSA(t, pub, secret, append(block(0), block(16)...)),
		"inner pad mixed":      sealPSKRSA(t, pub, secret, append(append([]byte("abcdefghijklmn"), 3, 2), block(16)...)),
	}
	for name, hash := range cases {
		mustNotPanic(t, name, func() {
			got, err := DecryptPSKRSA(priv, hash)
			if !errors.Is(err, ErrBadCiphertext) {
				t.Errorf("%s: got %q, err = %v; want ErrBadCiphertext", name, got, err)
			}
		})
	}
	// The helper itself must make decryptable payloads, or the cases above
	// would pass for the wrong reason.
	ok := sealPSKRSA(t, pub, secret, append(append([]byte("abcdefghijklmn"), 2, 2), block(16)...))
	if got, err := DecryptPSKRSA(priv, ok); err != nil || string(got) != "abcdefghijklmn" {
		t.Fatalf("control payload: got %q, %v", got, err)
	}
}

// Failures that depend on secret data must be indistinguishable by message.
func TestDecryptPSKRSASecretFailuresLookAlike(t *testing.T) {
	priv := refRSAKey(t)
	secret := bytes.Repeat([]byte{9}, 16)
	badPad := sealPSKRSA(t, &priv.PublicKey, secret, append(bytes.Repeat([]byte{16}, 16), bytes.Repeat([]byte{3}, 16)...))
	left, right, _ := strings.Cut(badPad, "|")
	w := mustHex(t, right)
	w[0] ^= 0x80
	badKey := left + "|" + hex.EncodeToString(w)
	_, errPad := DecryptPSKRSA(priv, badPad)
	_, errKey := DecryptPSKRSA(priv, badKey)
	if errPad == nil || errKey == nil || errPad.Error() != errKey.Error() {
		t.Fatalf("padding error %q and key error %q differ", errPad, errKey)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEncrypt(t *testing.T, pub *rsa.PublicKey, msg []byte) string {
	t.Helper()
	h, err := EncryptPSKRSA(pub, msg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

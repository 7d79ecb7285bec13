package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRSAPrivateKeyPEMFormats(t *testing.T) {
	pkcs1 := refRSAKey(t)
	if got := pkcs1.N.BitLen(); got != 1024 {
		t.Fatalf("reference key is %d bits, want 1024", got)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pkcs1)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := ParseRSAPrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatalf("parse PKCS#8: %v", err)
	}
	if !pkcs8.Equal(pkcs1) {
		t.Fatal("PKCS#8 and PKCS#1 forms parsed to different keys")
	}
}

func TestParseRSAPublicKeyPEMFormats(t *testing.T) {
	priv := refRSAKey(t)
	spki, err := ParseRSAPublicKeyPEM(readRef(t, "rsa_pub_key.pem"))
	if err != nil {
		t.Fatalf("parse SPKI: %v", err)
	}
	pkcs1, err := ParseRSAPublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)}))
	if err != nil {
		t.Fatalf("parse PKCS#1 public: %v", err)
	}
	for name, pub := range map[string]any{"spki": spki, "pkcs1": pkcs1} {
		if !priv.PublicKey.Equal(pub) {
			t.Errorf("%s public key does not equal the private key's public half", name)
		}
	}
}

func TestParseRSAKeyErrors(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good := readRef(t, "rsa_priv_key.pem")
	block, _ := pem.Decode(good)
	truncated := pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes[:len(block.Bytes)/2]})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: block.Type, Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: block.Bytes})

	privCases := map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("not a key"),
		"public as priv": readRef(t, "rsa_pub_key.pem"),
		"certificate":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
		"ec pkcs8":       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"truncated":      truncated,
		"encrypted":      encrypted,
		"bad pkcs8":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}),
	}
	for name, in := range privCases {
		mustNotPanic(t, name, func() {
			if _, err := ParseRSAPrivateKeyPEM(in); !errors.Is(err, ErrBadKey) {
				t.Errorf("private %s: err = %v, want ErrBadKey", name, err)
			}
		})
	}
	pubCases := map[string][]byte{
		"empty":          nil,
		"private as pub": good,
		"ec spki":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER}),
		"bad pkcs1":      pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: []byte{0x30, 0x00}}),
	}
	for name, in := range pubCases {
		mustNotPanic(t, name, func() {
			if _, err := ParseRSAPublicKeyPEM(in); !errors.Is(err, ErrBadKey) {
				t.Errorf("public %s: err = %v, want ErrBadKey", name, err)
			}
		})
	}
}

func TestEncodeRSAPublicKeyPEMMatchesReference(t *testing.T) {
	got, err := EncodeRSAPublicKeyPEM(&refRSAKey(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want := refInfo(t).RSAPublicKey
	if got != want {
		t.Fatalf("encoded public key differs from info.json rsa-public-key:\ngot  %q\nwant %q", got, want)
	}
	if strings.HasSuffix(got, "\n") || strings.Contains(got, "\r") {
		t.Fatalf("encoded PEM must use \\n and have no trailing newline: %q", got)
	}
	if file := strings.TrimSuffix(string(readRef(t, "rsa_pub_key.pem")), "\n"); got != file {
		t.Fatalf("encoded public key differs from rsa_pub_key.pem")
	}
}

func TestCheckRSAKeyPair(t *testing.T) {
	priv := refRSAKey(t)
	pub, err := ParseRSAPublicKeyPEM(readRef(t, "rsa_pub_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRSAKeyPair(priv, pub); err != nil {
		t.Fatalf("reference pair: %v", err)
	}
	other, err := GenerateRSAKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRSAKeyPair(priv, &other.PublicKey); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("mismatched pair: err = %v, want ErrKeyMismatch", err)
	}
	if err := CheckRSAKeyPair(priv, nil); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("nil public key: err = %v, want ErrKeyMismatch", err)
	}
}

func TestGenerateRSAKeyFiles(t *testing.T) {
	dir := t.TempDir()
	privPath, pubPath := filepath.Join(dir, "rsa_priv_key.pem"), filepath.Join(dir, "rsa_pub_key.pem")
	key, err := GenerateRSAKeyFiles(privPath, pubPath, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 {
		t.Fatalf("key is %d bits, want 2048", key.N.BitLen())
	}
	for _, p := range []string{privPath, pubPath} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", p, st.Mode().Perm())
		}
	}
	priv, err := LoadRSAPrivateKeyFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadRSAPublicKeyFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(key) || CheckRSAKeyPair(priv, pub) != nil {
		t.Fatal("files do not hold the generated pair")
	}
	privBefore, _ := os.ReadFile(privPath)

	if _, err := GenerateRSAKeyFiles(privPath, filepath.Join(dir, "new_pub.pem"), 2048); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second generation: err = %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(privPath); !bytes.Equal(after, privBefore) {
		t.Fatal("existing private key was modified")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only the two key files", names)
	}
}

func TestGenerateRSAKeySizes(t *testing.T) {
	for _, bits := range []int{-1, 1024, 2047, maxRSABits + 1} {
		if _, err := GenerateRSAKey(bits); !errors.Is(err, ErrBadKey) {
			t.Errorf("GenerateRSAKey(%d): err = %v, want ErrBadKey", bits, err)
		}
	}
	if testing.Short() {
		t.Skip("default-size (3072-bit) generation is slow")
	}
	key, err := GenerateRSAKey(0)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != DefaultRSABits {
		t.Fatalf("default key is %d bits, want %d", key.N.BitLen(), DefaultRSABits)
	}
}

func TestWriteNewFileNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := writeNewFile(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := writeNewFile(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Fatalf("content = %q, want %q", got, "first")
	}
	if err := writeNewFile(filepath.Join(t.TempDir(), "missing-dir", "key"), nil); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

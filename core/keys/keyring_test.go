package keys

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestKeyringReferenceIdentity(t *testing.T) {
	kr := refKeyring(t)
	info := refInfo(t)
	if got := kr.Address().Hex(); got != info.ProviderAddress || got != refAddress {
		t.Errorf("Address = %s, want %s", got, info.ProviderAddress)
	}
	if got := kr.ECDSAPublicKeyHex(); got != info.ECDSAPublicKey || len(got) != 132 || !strings.HasPrefix(got, "0x04") {
		t.Errorf("ECDSAPublicKeyHex = %s, want %s", got, info.ECDSAPublicKey)
	}
	if got := kr.RSAPublicKeyPEM(); got != info.RSAPublicKey {
		t.Errorf("RSAPublicKeyPEM = %q, want %q", got, info.RSAPublicKey)
	}
	if got := crypto.PubkeyToAddress(kr.PrivateKey().PublicKey); got != kr.Address() {
		t.Errorf("PrivateKey belongs to %s, not %s", got.Hex(), kr.Address().Hex())
	}
	if !kr.RSAPublicKey().Equal(&refRSAKey(t).PublicKey) || crypto.PubkeyToAddress(*kr.ECDSAPublicKey()) != kr.Address() {
		t.Error("public key accessors disagree with the loaded keys")
	}
}

func TestKeyringEncryptDecrypt(t *testing.T) {
	kr := refKeyring(t)
	msg := []byte(`[{"index":0,"contentType":"text/plain","url":"https://example.com/a.txt"}]`)
	rsaHash, err := kr.EncryptPSKRSA(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kr.DecryptPSKRSA(rsaHash); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("PSK-RSA: %q, %v", got, err)
	}
	ecHash, err := kr.EncryptPSKECDSA(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kr.DecryptPSKECDSA(ecHash); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("PSK-ECDSA: %q, %v", got, err)
	}
	// A PSK-ECDSA hash survives a JSON round trip, the way the API carries it.
	wire, err := json.Marshal(map[string]string{"hash": ecHash})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if err := json.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	if got, err := kr.DecryptPSKECDSA(back["hash"]); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("PSK-ECDSA after JSON: %q, %v", got, err)
	}
}

// secretsOf lists text forms of the reference keys' secrets that must never
// appear in formatted output.
func secretsOf(t *testing.T, kr *Keyring) []string {
	t.Helper()
	d := kr.PrivateKey().D.FillBytes(make([]byte, 32))
	rsaD := refRSAKey(t).D
	return []string{
		hex.EncodeToString(d), strings.ToUpper(hex.EncodeToString(d)), kr.PrivateKey().D.String(),
		rsaD.String(), rsaD.Text(16), "PRIVATE KEY", refPassword,
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(refRSAKey(t))}))[40:80],
	}
}

func TestKeyringNeverPrintsSecrets(t *testing.T) {
	kr := refKeyring(t)
	secrets := secretsOf(t, kr)
	addr := kr.Address().Hex()

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, kr), fmt.Sprintf(verb, *kr))
		outputs = append(outputs, fmt.Sprintf(verb, struct{ K *Keyring }{kr}))
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("started", "keyring", kr, "copy", *kr)
	logger.Info("nested", slog.Group("node", slog.Any("keys", kr)))
	var record map[string]any
	if err := json.Unmarshal(bytes.SplitN(buf.Bytes(), []byte("\n"), 2)[0], &record); err != nil {
		t.Fatalf("slog output is not JSON: %v", err)
	}
	if k, ok := record["keyring"].(map[string]any); !ok || k["address"] != addr || len(k) != 1 {
		t.Errorf("slog keyring = %v, want {address: %s}", record["keyring"], addr)
	}
	textBuf := new(bytes.Buffer)
	slog.New(slog.NewTextHandler(textBuf, nil)).Info("started", "keyring", kr)
	j, err := json.Marshal(kr)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, buf.String(), textBuf.String(), string(j))

	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("output %q contains a secret", out)
			}
		}
	}
	for _, out := range outputs[:len(outputs)-1] {
		if !strings.Contains(out, addr) {
			t.Errorf("output %q does not name the address", out)
		}
	}
}

func TestSourcesRedactPassword(t *testing.T) {
	src := Sources{
		ProviderKeyfile:   string(readRef(t, "provider-keystore.json")),
		ProviderPassword:  "p4ss-w0rd-value",
		RSAPrivateKeyFile: "/keys/rsa_priv_key.pem",
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "keys", src)
	for _, out := range []string{fmt.Sprint(src), fmt.Sprintf("%+v", src), fmt.Sprintf("%#v", src), fmt.Sprintf("%v", &src), buf.String()} {
		if strings.Contains(out, src.ProviderPassword) || strings.Contains(out, "ciphertext") {
			t.Fatalf("output %q leaks the password or keystore", out)
		}
		if !strings.Contains(out, "rsa_priv_key.pem") {
			t.Fatalf("output %q lost the non-secret fields", out)
		}
	}
}

func TestLoadKeyringErrors(t *testing.T) {
	keystore := string(readRef(t, "provider-keystore.json"))
	dir := t.TempDir()
	otherPriv, otherPub := filepath.Join(dir, "priv.pem"), filepath.Join(dir, "pub.pem")
	if _, err := GenerateRSAKeyFiles(otherPriv, otherPub, 2048); err != nil {
		t.Fatal(err)
	}
	const wrong = "definitely-wrong-password"
	_, err := LoadKeyring(Sources{ProviderKeyfile: keystore, ProviderPassword: wrong, RSAPrivateKeyFile: refPath("rsa_priv_key.pem")})
	if !errors.Is(err, ErrBadPassword) || strings.Contains(err.Error(), wrong) {
		t.Errorf("wrong password: err = %v", err)
	}
	_, err = LoadKeyring(Sources{ProviderKeyfile: keystore, ProviderPassword: refPassword, RSAPrivateKeyFile: refPath("rsa_priv_key.pem"), RSAPublicKeyFile: otherPub})
	if !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("mismatched RSA files: err = %v", err)
	}
	_, err = LoadKeyring(Sources{ProviderKeyfile: keystore, ProviderPassword: refPassword, RSAPrivateKeyFile: refPath("rsa_pub_key.pem")})
	if !errors.Is(err, ErrBadKey) {
		t.Errorf("public key as private: err = %v", err)
	}
	kr, err := LoadKeyring(Sources{ProviderKeyfile: keystore, ProviderPassword: refPassword, RSAPrivateKeyFile: otherPriv})
	if err != nil {
		t.Fatalf("no public key file: %v", err)
	}
	if kr.RSAPublicKeyPEM() == refInfo(t).RSAPublicKey {
		t.Error("keyring publishes the reference RSA key instead of the loaded one")
	}
	if _, err := NewKeyring(nil, refRSAKey(t)); !errors.Is(err, ErrBadKey) {
		t.Errorf("nil signer: err = %v", err)
	}
	if _, err := NewKeyring(kr.PrivateKey(), nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("nil RSA key: err = %v", err)
	}
}

// Key material pasted where a path belongs must not reach error messages.
func TestMisplacedSecretsStayOutOfErrors(t *testing.T) {
	pemText := string(readRef(t, "rsa_priv_key.pem"))
	hexKey := "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
	mnemonic := "taxi toward unknown unique kiwi wheat shine hurry pelican ribbon glide noble"
	check := func(name string, err error, secret string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "MIIC") {
			t.Fatalf("%s: error leaks the value: %q", name, err)
		}
	}
	_, err := LoadRSAPrivateKeyFile(pemText)
	check("PEM as RSA path", err, pemText[40:80])
	_, err = LoadProviderKey(hexKey, refPassword)
	check("hex key as keyfile", err, hexKey)
	_, err = LoadProviderKey(mnemonic, refPassword)
	check("mnemonic as keyfile", err, "pelican")
	src := Sources{ProviderKeyfile: hexKey, RSAPrivateKeyFile: pemText}
	if out := fmt.Sprintf("%v", src); strings.Contains(out, hexKey) || strings.Contains(out, "MIIC") {
		t.Fatalf("Sources leaks a misplaced secret: %q", out)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, err = LoadRSAPrivateKeyFile(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: err = %v, want fs.ErrNotExist naming the path", err)
	}
}

func TestKeyringConcurrentUse(t *testing.T) {
	kr := refKeyring(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			msg := []byte(fmt.Sprintf("message %d", i))
			for range 5 {
				h, err := kr.EncryptPSKRSA(msg)
				if err == nil {
					var got []byte
					if got, err = kr.DecryptPSKRSA(h); err == nil && !bytes.Equal(got, msg) {
						err = fmt.Errorf("PSK-RSA mismatch %q", got)
					}
				}
				if err == nil {
					var h2 string
					if h2, err = kr.EncryptPSKECDSA(msg); err == nil {
						var got []byte
						if got, err = kr.DecryptPSKECDSA(h2); err == nil && !bytes.Equal(got, msg) {
							err = fmt.Errorf("PSK-ECDSA mismatch %q", got)
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

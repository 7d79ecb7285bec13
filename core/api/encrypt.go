package api

import (
	"net/http"
)

// encryptResponse keeps the reference's key order.
type encryptResponse struct {
	PublicKey string `json:"public-key"`
	Method    string `json:"method"`
	Hash      string `json:"hash"`
}

// postEncrypt encrypts a message so that only this node can read it
// (SPEC 2.2). Publishers use it to seal a DDO's file list.
func (s *server) postEncrypt(w http.ResponseWriter, r *http.Request) {
	f, err := readFields(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vals, err := f.requireStrings("method", "message")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	method, msg := vals[0], vals[1]
	var resp encryptResponse
	switch method {
	case "PSK-RSA":
		resp.PublicKey = s.cfg.Keys.RSAPublicKeyPEM()
		resp.Hash, err = s.cfg.Keys.EncryptPSKRSA([]byte(msg))
	case "PSK-ECDSA":
		// The reference sends the HD-wallet compressed key here, or nothing
		// for an ordinary keystore; we always name the key we used, in the
		// same form GET / publishes it.
		resp.PublicKey = s.cfg.Keys.ECDSAPublicKeyHex()
		resp.Hash, err = s.cfg.Keys.EncryptPSKECDSA([]byte(msg))
	default:
		s.fail(w, r, badRequest("Only PSK-ECDSA or PSK-RSA encryption allowed"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	resp.Method = method
	writeJSON(w, http.StatusCreated, resp)
}

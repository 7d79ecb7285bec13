package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/authz"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/core/filecrypt"
)

// Which token audiences each data endpoint accepts (SPEC 3.3 GO): the
// reference checks none, so any token with a DID downloads anything.
var (
	accessAudiences    = []string{auth.AudienceAccess}
	nftAccessAudiences = []string{auth.AudienceNFTAccess}
	// The SDK downloads NFT assets through /download with an nft-access token.
	downloadAudiences = []string{auth.AudienceDownload, auth.AudienceNFTAccess}
)

func (s *server) getAccess(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, accessAudiences, chi.URLParam(r, "agreement_id"))
}

func (s *server) getNFTAccess(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, nftAccessAudiences, chi.URLParam(r, "agreement_id"))
}

func (s *server) getDownload(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, downloadAudiences, "")
}

// serveFile streams file `index` of the token's DID, after checking that the
// token was issued for this endpoint (and this agreement, when the path names
// one). With ?result=url it answers the file's URL instead.
func (s *server) serveFile(w http.ResponseWriter, r *http.Request, audiences []string, agreementID string) {
	ctx := r.Context()
	bearer, ok := bearerToken(r)
	if !ok {
		s.fail(w, r, unauthorized(errors.New("no bearer token")))
		return
	}
	index, err := strconv.Atoi(chi.URLParam(r, "index"))
	if err != nil || index < 0 {
		s.fail(w, r, badRequest("index must be a non-negative integer"))
		return
	}
	if agreementID == "0x" {
		agreementID = "" // the SDK's marker for holder access without an agreement
	}
	grant, err := s.cfg.Tokens.Verify(bearer, auth.Require{Audiences: audiences, AgreementID: agreementID})
	switch {
	case errors.Is(err, auth.ErrWrongAudience):
		s.fail(w, r, &Error{Status: http.StatusForbidden, Message: "this token was not issued for this endpoint", Cause: err})
		return
	case errors.Is(err, auth.ErrWrongAgreement):
		s.fail(w, r, &Error{Status: http.StatusForbidden, Message: "the agreement in the path is not the token's agreement", Cause: err})
		return
	case err != nil:
		s.fail(w, r, unauthorized(err))
		return
	}
	if grant.DID == "" {
		s.fail(w, r, badRequest("DID not specified"))
		return
	}
	did, err := asset.ParseDID(grant.DID)
	if err != nil {
		s.fail(w, r, badRequest("DID not specified"))
		return
	}
	ddo, err := s.resolve(r, did)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fileURL, file, err := s.fileURL(ddo, index)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "file access",
		slog.String("grantee", grant.Grantee.Hex()), slog.String("audience", grant.Audience),
		slog.String("did", grant.DID), slog.String("agreement", grant.AgreementID), slog.Int("index", index))
	head := r.Method == http.MethodHead
	if r.URL.Query().Get("result") == "url" {
		if head {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			return
		}
		if err := s.chargeOnce(r, grant, did, ddo, index, "url"); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, fileURL)
		return
	}
	var rng *byteRange
	if r.Header.Get("Range") != "" {
		rng = parseRange(r.Header.Get("Range"))
	}
	d, err := s.openDownload(ctx, fileURL, file, rng, r.Header.Get("If-Range"))
	if err != nil {
		var re *fetch.RangeError
		if errors.As(err, &re) && re.Size >= 0 {
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(re.Size, 10))
		}
		if errors.Is(err, filecrypt.ErrCorrupt) || errors.Is(err, filecrypt.ErrFormat) {
			s.log.ErrorContext(ctx, "encrypted file does not decrypt; nothing served",
				"did", grant.DID, "index", index, "error", err)
		}
		s.fail(w, r, downloadError(err))
		return
	}
	defer d.close()
	bufp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bufp)
	if !head {
		// A file that does not decrypt answers 502 and costs nothing.
		if err := d.prime(*bufp); err != nil {
			if errors.Is(err, filecrypt.ErrCorrupt) || errors.Is(err, filecrypt.ErrFormat) {
				s.log.ErrorContext(ctx, "encrypted file failed authentication; nothing served", "did", grant.DID, "index", index, "error", err)
			}
			s.fail(w, r, downloadError(err))
			return
		}
		// Charged only once the file is in hand, so a failed fetch costs
		// nothing, and once per download (see chargeLedger), so resuming
		// costs nothing more.
		if err := s.chargeOnce(r, grant, did, ddo, index, d.etag); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.send(w, r, d, *bufp, file, index, grant.DID)
}

// resolve finds the DDO of did.
func (s *server) resolve(r *http.Request, did asset.DID) (*asset.DDO, error) {
	ddo, err := s.cfg.Resolver.Resolve(r.Context(), did)
	switch {
	case errors.Is(err, asset.ErrNotFound):
		return nil, &Error{Status: http.StatusNotFound, Message: "No such DID " + did.String(), Cause: err}
	case errors.Is(err, asset.ErrUnavailable):
		return nil, &Error{Status: http.StatusServiceUnavailable, Message: "the asset's metadata could not be fetched; retry later", Cause: err, RetryAfter: 5}
	case errors.Is(err, asset.ErrInvalidDDO):
		return nil, &Error{Status: http.StatusUnprocessableEntity, Message: "the asset's DDO is not valid", Cause: err}
	}
	return ddo, err
}

// chargeOnce takes the credits one use costs when an NFT holder uses a
// credit asset (SPEC 4.6), once per token, file and file version (see
// chargeLedger).
func (s *server) chargeOnce(r *http.Request, grant *auth.Grant, did asset.DID, ddo *asset.DDO, index int, version string) error {
	if grant.Audience != auth.AudienceNFTAccess || s.cfg.Charger == nil || ddo.NFTType() != "nft1155-credit" {
		return nil
	}
	key := strings.Join([]string{grant.ID, grant.Grantee.Hex(), grant.DID, strconv.Itoa(index), version}, "\x00")
	return s.charges.once(r.Context(), key, grant.ExpiresAt, func() error { return s.charge(r, grant, did, ddo) })
}

// charge takes the credits of one use.
func (s *server) charge(r *http.Request, grant *auth.Grant, did asset.DID, ddo *asset.DDO) error {
	_, err := s.cfg.Charger.ChargeCredits(r.Context(), grant.Grantee, did, ddo)
	var d *authz.Denied
	switch {
	case errors.As(err, &d):
		return &Error{Status: http.StatusPaymentRequired, Message: d.Reason, Cause: err}
	case errors.Is(err, chain.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Message: "the chain is unavailable; retry later", Cause: err, RetryAfter: 5}
	}
	return err
}

// fileURL decrypts the DDO's file list and returns file index's URL. Every
// decryption failure answers the same, so the endpoint cannot be used as a
// padding oracle on PSK-RSA.
func (s *server) fileURL(ddo *asset.DDO, index int) (string, *asset.File, error) {
	undecryptable := &Error{Status: http.StatusUnprocessableEntity, Message: "the asset's file list cannot be decrypted by this node"}
	sealed, err := ddo.EncryptedFiles()
	if err != nil {
		return "", nil, &Error{Status: http.StatusUnprocessableEntity, Message: "the asset has no encrypted file list", Cause: err}
	}
	method, err := ddo.DecryptionMethod()
	if err != nil {
		undecryptable.Cause = err
		return "", nil, undecryptable
	}
	var plain []byte
	switch method {
	case "PSK-ECDSA":
		plain, err = s.cfg.Keys.DecryptPSKECDSA(sealed)
	default:
		plain, err = s.cfg.Keys.DecryptPSKRSA(sealed)
	}
	if err != nil {
		undecryptable.Cause = err
		return "", nil, undecryptable
	}
	files, err := asset.DecodeFileList(plain)
	if err != nil {
		undecryptable.Cause = err
		return "", nil, undecryptable
	}
	u, err := asset.FileURL(files, index)
	if err != nil {
		return "", nil, &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("the asset has no file %d", index), Cause: err}
	}
	return u, &files[index], nil // FileURL addresses files by position
}

func fetchError(err error) *Error {
	switch {
	case errors.Is(err, fetch.ErrRangeNotSatisfiable):
		return &Error{Status: http.StatusRequestedRangeNotSatisfiable, Message: "the requested range is not satisfiable", Cause: err}
	case errors.Is(err, fetch.ErrInvalidKey):
		return &Error{Status: http.StatusBadRequest, Message: "the file's URL does not name a valid object", Cause: err}
	case errors.Is(err, fetch.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Message: "the file is not found at its source", Cause: err}
	case errors.Is(err, fetch.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Message: "the file's URL points inside the node's network or outside the folders it serves files from", Cause: err}
	case errors.Is(err, fetch.ErrUnsupported):
		return &Error{Status: http.StatusNotImplemented, Message: "this node cannot serve the file's URL scheme", Cause: err}
	default:
		return &Error{Status: http.StatusBadGateway, Message: "the file's source could not be read", Cause: err}
	}
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// contentDisposition keeps the reference's `attachment;filename=<name>`,
// which the SDK parses, for plain names, and RFC 6266 encoding otherwise.
func contentDisposition(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	plain := name != "" && name != "." && name != "/"
	for _, c := range name {
		if c < 0x21 || c > 0x7e || c == '"' || c == ';' || c == ',' {
			plain = false
			break
		}
	}
	if plain {
		return "attachment;filename=" + name
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

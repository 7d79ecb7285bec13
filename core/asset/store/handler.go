package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
)

// HandlerOptions configure the store's HTTP API.
type HandlerOptions struct {
	// Guard decides who may write. Nil makes the API read-only: writes are
	// answered 403.
	Guard Guard
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

type api struct {
	s     *Store
	guard Guard
	log   *slog.Logger
}

// maxBody bounds request bodies: a DDO plus room for JSON whitespace.
const maxBody = asset.MaxDDOSize + 64<<10

// Handler returns a standalone handler serving the store's API (see the
// package documentation), answering unknown routes in the reference JSON
// error shape.
func (s *Store) Handler(opts HandlerOptions) http.Handler {
	r := chi.NewRouter()
	a := s.newAPI(opts)
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		a.fail(w, req, &httpError{http.StatusNotFound, fmt.Sprintf("Cannot %s %s", req.Method, req.URL.Path), nil})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		a.fail(w, req, &httpError{http.StatusMethodNotAllowed, fmt.Sprintf("Cannot %s %s", req.Method, req.URL.Path), nil})
	})
	a.routes(r)
	return r
}

// Routes registers the store's API on r, under the absolute paths listed
// in the package documentation, so it can share the node's router and
// middleware.
func (s *Store) Routes(r chi.Router, opts HandlerOptions) { s.newAPI(opts).routes(r) }

func (s *Store) newAPI(opts HandlerOptions) *api {
	g := opts.Guard
	if g == nil {
		g = readOnly{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &api{s: s, guard: g, log: log}
}

func (a *api) routes(r chi.Router) {
	r.Post(marketplace.DDOPath, a.handle(a.create))
	r.Get(marketplace.DDOPath, a.handle(a.list))
	r.Get(marketplace.QueryPath, a.handle(a.list))
	r.Post(marketplace.QueryPath, a.handle(a.search))
	r.Get(marketplace.DDOPath+"/{did}", a.handle(a.get))
	r.Put(marketplace.DDOPath+"/{did}", a.handle(a.update))
	r.Delete(marketplace.DDOPath+"/{did}", a.handle(a.remove))
	r.Get(marketplace.ProfileByAddressPath+"{address}", a.handle(a.profile))
	r.Post(marketplace.LoginPath, a.handle(a.login))
}

// httpError is an answer other than success. Cause is logged, not sent.
type httpError struct {
	status  int
	message string
	cause   error
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s: %v", e.status, e.message, e.cause) }

func (a *api) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			a.fail(w, r, err)
		}
	}
}

// fail is the one place an error becomes an answer. The package's errors
// carry no secrets, so 4xx answers say what was wrong; anything unexpected
// is a 500 whose cause is only logged.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &mbe):
		he = &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), err}
	case errors.Is(err, asset.ErrInvalidDDO), errors.Is(err, asset.ErrInvalidDID), errors.Is(err, ErrBadQuery):
		he = &httpError{http.StatusBadRequest, err.Error(), err}
	case errors.Is(err, ErrExists):
		he = &httpError{http.StatusConflict, err.Error(), err}
	case errors.Is(err, asset.ErrNotFound):
		he = &httpError{http.StatusNotFound, err.Error(), err}
	case errors.Is(err, ErrTooMany):
		w.Header().Set("Retry-After", "60")
		he = &httpError{http.StatusTooManyRequests, "too many client assertions from this address; retry later", err}
	case errors.Is(err, ErrUnauthenticated):
		he = &httpError{http.StatusUnauthorized, err.Error(), err}
	case errors.Is(err, ErrForbidden):
		he = &httpError{http.StatusForbidden, err.Error(), err}
	case errors.Is(err, context.Canceled):
		he = &httpError{499, "client closed request", err}
	case errors.Is(err, context.DeadlineExceeded):
		he = &httpError{http.StatusServiceUnavailable, "timed out", err}
	default:
		he = &httpError{http.StatusInternalServerError, "Internal server error", err}
	}
	level := slog.LevelDebug
	if he.status >= 500 {
		level = slog.LevelError
	}
	a.log.Log(r.Context(), level, "metadata request failed", "method", r.Method, "path", r.URL.Path, "status", he.status, "error", he.cause)
	reason := http.StatusText(he.status)
	if reason == "" {
		reason = "Error"
	}
	writeJSON(w, he.status, marketplace.ErrorBody{StatusCode: he.status, Message: he.message, Error: reason})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"statusCode":500,"message":"Internal server error"}`, http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body) // an error means the client left
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &httpError{http.StatusBadRequest, "could not read the request body", err}
	}
	return body, nil
}

func pathDID(r *http.Request) (asset.DID, error) {
	raw, err := url.PathUnescape(chi.URLParam(r, "did"))
	if err != nil {
		return asset.DID{}, fmt.Errorf("%w: not a valid path segment", asset.ErrInvalidDID)
	}
	return asset.ParseDID(raw)
}

func (a *api) create(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	d, err := asset.DecodeDDO(body)
	if err != nil {
		return err
	}
	if err := a.guard.Authorize(r.Context(), r, OpCreate, nil, d); err != nil {
		return err
	}
	if err := a.s.Create(r.Context(), d); err != nil {
		return err
	}
	writeRaw(w, http.StatusCreated, d.Raw())
	return nil
}

func (a *api) get(w http.ResponseWriter, r *http.Request) error {
	did, err := pathDID(r)
	if err != nil {
		return err
	}
	d, err := a.s.Resolve(r.Context(), did)
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, d.Raw())
	return nil
}

func (a *api) update(w http.ResponseWriter, r *http.Request) error {
	did, err := pathDID(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	d, err := asset.DecodeDDO(body)
	if err != nil {
		return err
	}
	if d.ID != did {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("the DDO's id %s differs from the path's %s", d.ID, did), nil}
	}
	existing, err := a.s.Resolve(r.Context(), did)
	if err != nil {
		return err
	}
	if err := a.guard.Authorize(r.Context(), r, OpUpdate, existing, d); err != nil {
		return err
	}
	// A concurrent delete between Resolve and Update makes Update report
	// not found, which is the right answer for this request too.
	if err := a.s.Update(r.Context(), d); err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, d.Raw())
	return nil
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) error {
	did, err := pathDID(r)
	if err != nil {
		return err
	}
	existing, err := a.s.Resolve(r.Context(), did)
	if err != nil {
		return err
	}
	if err := a.guard.Authorize(r.Context(), r, OpDelete, existing, nil); err != nil {
		return err
	}
	if err := a.s.Delete(r.Context(), did); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// list answers GET .../ddo and GET .../ddo/query, whose parameters arrive
// in the query string (query and sort as JSON text).
func (a *api) list(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	var q marketplace.QueryRequest
	var err error
	if q.Offset, err = intParam(v, "offset"); err != nil {
		return err
	}
	if q.Page, err = intParam(v, "page"); err != nil {
		return err
	}
	q.Text = v.Get("text")
	q.ShowUnlisted = v.Get("show_unlisted") == "true"
	for name, dst := range map[string]*json.RawMessage{"query": &q.Query, "sort": &q.Sort} {
		if s := v.Get(name); s != "" {
			if !json.Valid([]byte(s)) {
				return fmt.Errorf("%w: %s is not JSON", ErrBadQuery, name)
			}
			*dst = json.RawMessage(s)
		}
	}
	return a.answerSearch(w, r, q)
}

func intParam(v url.Values, name string) (int, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer", ErrBadQuery, name)
	}
	return n, nil
}

func (a *api) search(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var q marketplace.QueryRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &q); err != nil {
			return fmt.Errorf("%w: the body must be a JSON object with query, text, offset, page and sort: %v", ErrBadQuery, describe(err))
		}
	}
	if q.Offset < 0 || q.Page < 0 {
		return fmt.Errorf("%w: offset and page must not be negative", ErrBadQuery)
	}
	return a.answerSearch(w, r, q)
}

// describe names a JSON decoding problem without Go type names.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s is %s", te.Field, te.Value)
	}
	return "not valid JSON"
}

func (a *api) answerSearch(w http.ResponseWriter, r *http.Request, q marketplace.QueryRequest) error {
	p, err := a.s.Search(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, marketplace.QueryResponse{
		Results:      p.Results,
		Page:         p.Page,
		TotalPages:   p.TotalPages,
		TotalResults: marketplace.TotalResults{Value: p.Total, Relation: "eq"},
	})
	return nil
}

func (a *api) profile(w http.ResponseWriter, r *http.Request) error {
	raw := chi.URLParam(r, "address")
	if !common.IsHexAddress(raw) {
		return &httpError{http.StatusBadRequest, "address must be a 0x-prefixed 20-byte hex address", nil}
	}
	addr := common.HexToAddress(raw)
	writeJSON(w, http.StatusOK, marketplace.Profile{
		UserID:    UserIDForAddress(addr),
		Nickname:  addr.Hex(),
		IsListed:  true,
		State:     "confirmed",
		Addresses: []string{addr.Hex()},
	})
	return nil
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func (a *api) login(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var f struct {
		Type      string `json:"client_assertion_type"`
		Assertion string `json:"client_assertion"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &f); err != nil {
			return &httpError{http.StatusBadRequest, "the body must be a JSON object with client_assertion", err}
		}
	} else {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return &httpError{http.StatusBadRequest, "the body must be a url-encoded form with client_assertion", err}
		}
		f.Type, f.Assertion = v.Get("client_assertion_type"), v.Get("client_assertion")
	}
	if f.Assertion == "" || (f.Type != "" && f.Type != assertionType) {
		return &httpError{http.StatusBadRequest, "client_assertion (of type " + assertionType + ") is required", nil}
	}
	tok, err := a.guard.Login(r.Context(), f.Assertion)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"access_token": tok})
	return nil
}

// readOnly is the Guard of a handler configured without one.
type readOnly struct{}

func (readOnly) Login(context.Context, string) (string, error) {
	return "", fmt.Errorf("%w: publishing to this node is disabled", ErrForbidden)
}

func (readOnly) Authorize(context.Context, *http.Request, Op, *asset.DDO, *asset.DDO) error {
	return fmt.Errorf("%w: publishing to this node is disabled", ErrForbidden)
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error is an answer other than success: the status and the message clients
// see. Cause is logged, never sent.
type Error struct {
	Status  int
	Message any // a string, or []string for validation failures as in the reference
	Cause   error
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %v: %v", e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %v", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

func badRequest(msg any) *Error { return &Error{Status: http.StatusBadRequest, Message: msg} }

// errorBody is the reference node's error shape.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error"`
}

// writeError is the one place an error becomes an HTTP answer. Anything that
// is not an *Error is a defect: it is logged with its cause and answered with
// a generic 500 so that internals (paths, URLs, keys) never reach a client.
func writeError(ctx context.Context, log *slog.Logger, w http.ResponseWriter, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		e = &Error{Status: 499, Message: "client closed request", Cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		e = &Error{Status: http.StatusServiceUnavailable, Message: "upstream timed out", Cause: err, RetryAfter: 5}
	default:
		e = &Error{Status: http.StatusInternalServerError, Message: "Internal server error", Cause: err}
	}
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelError
	}
	log.Log(ctx, level, "request failed", "status", e.Status, "message", e.Message, "error", e.Cause)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	reason := http.StatusText(e.Status)
	if reason == "" {
		reason = "Error"
	}
	writeJSON(w, e.Status, errorBody{StatusCode: e.Status, Message: e.Message, Error: reason})
}

// writeJSON answers v as JSON. HTML escaping is off so that strings such as
// PSK-ECDSA ciphertexts reach clients byte-for-byte as the reference sends them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types reach here; a failure is a programming error.
		http.Error(w, `{"statusCode":500,"message":"Internal server error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) // a write error means the client left
}

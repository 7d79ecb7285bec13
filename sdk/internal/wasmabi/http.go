package wasmabi

import (
	"encoding/binary"
	"errors"
)

// HTTPModule is the name of the host module.
const HTTPModule = "nvm_http"

// Names of the host module's functions.
const (
	HTTPFuncRequest  = "request"
	HTTPFuncWrite    = "write"
	HTTPFuncResponse = "response"
	HTTPFuncRead     = "read"
	HTTPFuncClose    = "close"
)

// HTTPStatus is the status half of an HTTPResult.
type HTTPStatus uint32

// The statuses of host function results.
const (
	HTTPOK    HTTPStatus = 0
	HTTPError HTTPStatus = 1
	HTTPEOF   HTTPStatus = 2
	HTTPShort HTTPStatus = 3
)

// HTTPResult packs a host function's status and value.
func HTTPResult(st HTTPStatus, v uint32) uint64 { return uint64(st)<<32 | uint64(v) }

// SplitHTTPResult undoes HTTPResult.
func SplitHTTPResult(r uint64) (HTTPStatus, uint32) { return HTTPStatus(r >> 32), uint32(r) }

// Bounds of the HTTP exchange, enforced on both sides.
const (
	// MaxHTTPURL is the longest URL a guest may request.
	MaxHTTPURL = 8 << 10
	// MaxHTTPHeaderBytes bounds the request's and the response's headers
	// (names plus values).
	MaxHTTPHeaderBytes = 64 << 10
	// MaxHTTPRequest bounds an encoded HTTPRequest.
	MaxHTTPRequest = MaxHTTPURL + MaxHTTPHeaderBytes + 4<<10
	// HTTPErrorBuffer is the out buffer size a guest passes at least; the
	// host fits its error messages within it.
	HTTPErrorBuffer = 4 << 10
	// MaxHTTPRead is the most bytes one read call copies.
	MaxHTTPRead = 1 << 20
)

// HTTPHeader is one header field; a field repeated is several entries.
type HTTPHeader struct{ Name, Value string }

// HTTPRequest is what a guest asks the host to send.
type HTTPRequest struct {
	Method  string
	URL     string
	Header  []HTTPHeader
	HasBody bool
	// ContentLength is the body's length, or -1 when unknown.
	ContentLength int64
}

// HTTPHead is the status and headers of a response.
type HTTPHead struct {
	StatusCode int
	Header     []HTTPHeader
	// ContentLength is the body's length, or -1 when unknown.
	ContentLength int64
}

var errHTTPShort = errors.New("truncated http message")

func appendHTTPString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func readHTTPString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errHTTPShort
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

func appendHTTPHeaders(b []byte, hs []HTTPHeader) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = appendHTTPString(appendHTTPString(b, h.Name), h.Value)
	}
	return b
}

func readHTTPHeaders(b []byte) ([]HTTPHeader, []byte, error) {
	n, k := binary.Uvarint(b)
	// Each header takes at least two bytes, which bounds n before any
	// allocation.
	if k <= 0 || n > uint64(len(b)-k)/2 {
		return nil, nil, errHTTPShort
	}
	b = b[k:]
	hs := make([]HTTPHeader, 0, n)
	size := 0
	for range n {
		var h HTTPHeader
		var err error
		if h.Name, b, err = readHTTPString(b); err != nil {
			return nil, nil, err
		}
		if h.Value, b, err = readHTTPString(b); err != nil {
			return nil, nil, err
		}
		if size += len(h.Name) + len(h.Value); size > MaxHTTPHeaderBytes {
			return nil, nil, errors.New("http headers over 64KiB")
		}
		hs = append(hs, h)
	}
	return hs, b, nil
}

func appendHTTPInt(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func readHTTPInt(b []byte) (int64, []byte, error) {
	v, k := binary.Varint(b)
	if k <= 0 {
		return 0, nil, errHTTPShort
	}
	return v, b[k:], nil
}

// AppendHTTPRequest encodes r.
func AppendHTTPRequest(b []byte, r HTTPRequest) []byte {
	b = appendHTTPString(appendHTTPString(b, r.Method), r.URL)
	b = appendHTTPHeaders(b, r.Header)
	flag := byte(0)
	if r.HasBody {
		flag = 1
	}
	return appendHTTPInt(append(b, flag), r.ContentLength)
}

// DecodeHTTPRequest decodes an encoded HTTPRequest, refusing one over the
// bounds.
func DecodeHTTPRequest(b []byte) (HTTPRequest, error) {
	var r HTTPRequest
	if len(b) > MaxHTTPRequest {
		return r, errors.New("http request over its size limit")
	}
	var err error
	if r.Method, b, err = readHTTPString(b); err != nil {
		return r, err
	}
	if r.URL, b, err = readHTTPString(b); err != nil {
		return r, err
	}
	if len(r.URL) > MaxHTTPURL {
		return r, errors.New("url over 8KiB")
	}
	if r.Header, b, err = readHTTPHeaders(b); err != nil {
		return r, err
	}
	if len(b) < 1 || b[0] > 1 {
		return r, errHTTPShort
	}
	r.HasBody = b[0] == 1
	if r.ContentLength, b, err = readHTTPInt(b[1:]); err != nil {
		return r, err
	}
	if len(b) != 0 {
		return r, errors.New("trailing bytes after the http request")
	}
	return r, nil
}

// AppendHTTPHead encodes h.
func AppendHTTPHead(b []byte, h HTTPHead) []byte {
	b = appendHTTPInt(b, int64(h.StatusCode))
	b = appendHTTPHeaders(b, h.Header)
	return appendHTTPInt(b, h.ContentLength)
}

// DecodeHTTPHead decodes an encoded HTTPHead.
func DecodeHTTPHead(b []byte) (HTTPHead, error) {
	var h HTTPHead
	code, b, err := readHTTPInt(b)
	if err != nil {
		return h, err
	}
	if code < 100 || code > 999 {
		return h, errors.New("http status code out of range")
	}
	h.StatusCode = int(code)
	if h.Header, b, err = readHTTPHeaders(b); err != nil {
		return h, err
	}
	if h.ContentLength, b, err = readHTTPInt(b); err != nil {
		return h, err
	}
	if len(b) != 0 {
		return h, errors.New("trailing bytes after the http head")
	}
	return h, nil
}

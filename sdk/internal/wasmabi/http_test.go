package wasmabi

import (
	"reflect"
	"strings"
	"testing"
)

func TestHTTPRequestRoundTrip(t *testing.T) {
	r := HTTPRequest{Method: "PUT", URL: "http://127.0.0.1:9000/a?b=c", Header: []HTTPHeader{{"A", "1"}, {"A", "2"}, {"Content-Type", "x/y"}}, HasBody: true, ContentLength: -1}
	got, err := DecodeHTTPRequest(AppendHTTPRequest(nil, r))
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("got %+v, %v; want %+v", got, err, r)
	}
	h := HTTPHead{StatusCode: 206, Header: []HTTPHeader{{"Etag", `"x"`}}, ContentLength: 1 << 40}
	gh, err := DecodeHTTPHead(AppendHTTPHead(nil, h))
	if err != nil || !reflect.DeepEqual(gh, h) {
		t.Fatalf("got %+v, %v; want %+v", gh, err, h)
	}
}

func TestHTTPRequestBounds(t *testing.T) {
	long := HTTPRequest{Method: "GET", URL: "http://h/" + strings.Repeat("a", MaxHTTPURL)}
	if _, err := DecodeHTTPRequest(AppendHTTPRequest(nil, long)); err == nil {
		t.Error("a URL over the limit was accepted")
	}
	big := HTTPRequest{Method: "GET", URL: "http://h/"}
	for range 40 {
		big.Header = append(big.Header, HTTPHeader{"X", strings.Repeat("v", 2000)})
	}
	if _, err := DecodeHTTPRequest(AppendHTTPRequest(nil, big)); err == nil {
		t.Error("headers over the limit were accepted")
	}
	b := AppendHTTPRequest(nil, HTTPRequest{Method: "GET", URL: "http://h/"})
	for i := range len(b) {
		if _, err := DecodeHTTPRequest(b[:i]); err == nil {
			t.Errorf("a request truncated to %d bytes was accepted", i)
		}
	}
}

func FuzzDecodeHTTP(f *testing.F) {
	f.Add(AppendHTTPRequest(nil, HTTPRequest{Method: "GET", URL: "http://h/", Header: []HTTPHeader{{"A", "b"}}}))
	f.Add(AppendHTTPHead(nil, HTTPHead{StatusCode: 200, ContentLength: -1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeHTTPRequest(b); err == nil {
			if _, err := DecodeHTTPRequest(AppendHTTPRequest(nil, r)); err != nil {
				t.Fatalf("re-encoding %+v: %v", r, err)
			}
		}
		if h, err := DecodeHTTPHead(b); err == nil {
			if _, err := DecodeHTTPHead(AppendHTTPHead(nil, h)); err != nil {
				t.Fatalf("re-encoding %+v: %v", h, err)
			}
		}
	})
}

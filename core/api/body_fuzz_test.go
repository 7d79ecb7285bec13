package api

import (
	"errors"
	"testing"
)

// FuzzParseFields: no body, however malformed, panics the decoder or yields
// anything but fields or a 4xx *Error.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{`{"method":"PSK-RSA","message":"hi"}`, `[]`, `{"a":1e999}`, `method=PSK-RSA&message=x`, `%zz`, `{"a":{"b":[1,2,{"c":null}]}}`, "\xff\xfe", `""`, `{} {}`} {
		f.Add(true, []byte(s))
		f.Add(false, []byte(s))
	}
	f.Fuzz(func(t *testing.T, asJSON bool, body []byte) {
		fs, err := parseFields(asJSON, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 {
				t.Fatalf("error %v is not a 4xx *Error", err)
			}
			return
		}
		if fs == nil {
			t.Fatal("nil fields without an error")
		}
		if _, err := fs.requireStrings("method", "message"); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("requireStrings: %v", err)
			}
		}
	})
}

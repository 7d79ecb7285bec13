package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// fields is a request body decoded the way the reference node's Express
// parsers decode it: a JSON object, or a url-encoded form. A value is a
// string only when the client sent exactly one string.
type fields map[string]any

// readFields decodes r's body. Bodies of other content types are ignored, as
// Express ignores them, so that the handler reports the missing fields.
func readFields(r *http.Request) (fields, error) {
	ct := r.Header.Get("Content-Type")
	if !isJSON(ct) && !isForm(ct) {
		return fields{}, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, &Error{Status: http.StatusBadRequest, Message: "could not read the request body", Cause: err}
	}
	return parseFields(isJSON(ct), body)
}

func parseFields(asJSON bool, body []byte) (fields, error) {
	if asJSON {
		if len(bytes.TrimSpace(body)) == 0 {
			return fields{}, nil
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Message: "request body is not valid JSON", Cause: err}
		}
		if dec.More() {
			return nil, badRequest("request body holds more than one JSON value")
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, badRequest("request body must be a JSON object")
		}
		return fields(m), nil
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Message: "request body is not a valid url-encoded form", Cause: err}
	}
	f := make(fields, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			f[k] = vs[0]
		} else {
			f[k] = vs // repeated: not a string, as Express's qs makes it an array
		}
	}
	return f, nil
}

// requireStrings returns the named string fields, or a 400 listing every
// field that is missing or not a string, in the reference's wording.
func (f fields) requireStrings(names ...string) ([]string, error) {
	vals := make([]string, len(names))
	var problems []string
	for i, n := range names {
		s, ok := f[n].(string)
		if !ok {
			problems = append(problems, n+" must be a string")
			continue
		}
		vals[i] = s
	}
	if len(problems) > 0 {
		return nil, badRequest(problems)
	}
	return vals, nil
}

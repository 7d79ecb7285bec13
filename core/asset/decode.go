package asset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
)

// MaxDDOSize bounds the size of a DDO document in bytes. Real DDOs are a few
// tens of kilobytes; the bound keeps a hostile source from exhausting memory.
const MaxDDOSize = 1 << 20

// DecodeDDO decodes and checks a DDO document. It keeps data (the slice is
// not copied: do not modify it afterwards). Errors wrap ErrInvalidDDO and name
// the offending field.
//
// Checked: data is one JSON object of at most MaxDDOSize bytes; `id` is a
// valid DID; every field the node reads has the expected JSON type; every
// service has a non-empty type and a non-negative index, and no two services
// share an index (the node looks services up by index, so a duplicate would
// make the lookup ambiguous).
//
// A known difference from the JavaScript readers: encoding/json matches
// object keys case-insensitively, so in a document holding both "type" and
// "Type" the node reads the later one where JavaScript reads "type". Only a
// publisher can write such a document, and only about its own asset.
func DecodeDDO(data []byte) (*DDO, error) {
	if len(data) > MaxDDOSize {
		return nil, fmt.Errorf("%w: document is larger than %d bytes", ErrInvalidDDO, MaxDDOSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: document must be a JSON object", ErrInvalidDDO)
	}
	d := &DDO{raw: json.RawMessage(trimmed)}
	if err := json.Unmarshal(trimmed, d); err != nil {
		return nil, describeJSONError(err)
	}
	if d.ID.IsZero() {
		return nil, fmt.Errorf("%w: id is missing", ErrInvalidDDO)
	}
	seen := make(map[int]bool, len(d.Services))
	for i, s := range d.Services {
		if s.Type == "" {
			return nil, fmt.Errorf("%w: service[%d] has no type", ErrInvalidDDO, i)
		}
		if s.Index < 0 {
			return nil, fmt.Errorf("%w: service[%d] has a negative index", ErrInvalidDDO, i)
		}
		if seen[s.Index] {
			return nil, fmt.Errorf("%w: two services have index %d", ErrInvalidDDO, s.Index)
		}
		seen[s.Index] = true
	}
	return d, nil
}

// ReadDDO reads at most MaxDDOSize bytes from r and decodes them.
func ReadDDO(r io.Reader) (*DDO, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDDOSize+1))
	if err != nil {
		return nil, fmt.Errorf("asset: reading DDO: %w", err)
	}
	return DecodeDDO(data)
}

// describeJSONError turns encoding/json's errors, which speak of Go types,
// into messages about the document.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "document"
		}
		return fmt.Errorf("%w: %s is %s, want %s", ErrInvalidDDO, field, te.Value, jsonTypeName(te.Type))
	case errors.As(err, &se):
		return fmt.Errorf("%w: not valid JSON at byte %d", ErrInvalidDDO, se.Offset)
	case errors.Is(err, ErrInvalidDID):
		return fmt.Errorf("%w: id: %w", ErrInvalidDDO, err)
	}
	return fmt.Errorf("%w: %v", ErrInvalidDDO, err)
}

func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t {
	case reflect.TypeFor[Scalar]():
		return "string or number"
	case reflect.TypeFor[Flag]():
		return "bool or \"true\"/\"false\""
	case reflect.TypeFor[DID]():
		return "a did:nv: string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "integer"
	case reflect.Bool:
		return "bool"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "object"
	}
	return t.Kind().String()
}

package wasmabi

import (
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Hand-written codecs for the messages of the frequent storage calls, used
// by the guest. They produce and accept exactly the wire format of the
// pluginpb messages named on each (the tests check both against pluginpb),
// but cost a microsecond inside a module where protobuf-go's reflection
// costs tens. The host keeps using pluginpb.

// errWire reports a malformed message.
var errWire = errors.New("malformed protobuf message")

// fields calls f with each length-delimited or varint field of a message
// (v holds the bytes of the one, x the value of the other); f ignores the
// fields it does not know, and other wire types are skipped.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if typ == protowire.BytesType || typ == protowire.VarintType {
			f(num, typ, v, x)
		}
	}
	return nil
}

// str converts a string field, which proto3 requires to be UTF-8.
func str(v []byte, dst *string, bad *bool) {
	if !utf8.Valid(v) {
		*bad = true
		return
	}
	*dst = string(v)
}

// DecodeKeyRequest decodes a StatRequest or a DeleteRequest (field 1, key).
func DecodeKeyRequest(b []byte) (key string, err error) {
	var bad bool
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		if num == 1 && typ == protowire.BytesType {
			str(v, &key, &bad)
		}
	})
	if err == nil && bad {
		err = fmt.Errorf("%w: string field is not UTF-8", errWire)
	}
	return key, err
}

// DecodeGetRequest decodes a GetRequest.
func DecodeGetRequest(b []byte) (key string, rng *storage.Range, err error) {
	var bad bool
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			str(v, &key, &bad)
		case num == 2 && typ == protowire.BytesType:
			if rng == nil { // a repeated message field merges, as in protobuf
				rng = &storage.Range{}
			}
			if ferr := fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) {
				switch {
				case num == 1 && typ == protowire.VarintType:
					rng.Offset = int64(x)
				case num == 2 && typ == protowire.VarintType:
					rng.Length = int64(x)
				}
			}); ferr != nil {
				bad = true
			}
		}
	})
	if err == nil && bad {
		err = errWire
	}
	return key, rng, err
}

// DecodePutHeader decodes a PutHeader.
func DecodePutHeader(b []byte) (key string, opts storage.PutOptions, err error) {
	var bad bool
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			str(v, &key, &bad)
		case num == 2 && typ == protowire.BytesType:
			str(v, &opts.ContentType, &bad)
		case num == 3 && typ == protowire.VarintType:
			opts.IfAbsent = x != 0
		}
	})
	if err == nil && bad {
		err = fmt.Errorf("%w: string field is not UTF-8", errWire)
	}
	return key, opts, err
}

// DecodeListRequest decodes a ListRequest.
func DecodeListRequest(b []byte) (opts storage.ListOptions, err error) {
	var bad bool
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			str(v, &opts.Prefix, &bad)
		case num == 2 && typ == protowire.BytesType:
			str(v, &opts.After, &bad)
		case num == 3 && typ == protowire.VarintType:
			opts.Limit = int(int32(x))
		}
	})
	if err == nil && bad {
		err = fmt.Errorf("%w: string field is not UTF-8", errWire)
	}
	return opts, err
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, x uint64) []byte {
	if x == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, x)
}

// objectSize is the encoded size of an ObjectInfo.
func objectSize(o storage.ObjectInfo) int { return len(AppendObjectInfo(nil, o)) }

// AppendObjectInfo appends o encoded as an ObjectInfo.
func AppendObjectInfo(b []byte, o storage.ObjectInfo) []byte {
	b = appendString(b, 1, o.Key)
	b = appendVarint(b, 2, uint64(o.Size))
	b = appendString(b, 3, o.ContentType)
	b = appendString(b, 4, o.ETag)
	if !o.ModTime.IsZero() {
		var ts []byte
		ts = appendVarint(ts, 1, uint64(o.ModTime.Unix()))
		ts = appendVarint(ts, 2, uint64(int64(o.ModTime.Nanosecond())))
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, ts)
	}
	return b
}

// appendObjectField appends o as message field num.
func appendObjectField(b []byte, num protowire.Number, o storage.ObjectInfo) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(objectSize(o)))
	return AppendObjectInfo(b, o)
}

// AppendPutResponse appends a PutResponse carrying o.
func AppendPutResponse(b []byte, o storage.ObjectInfo) []byte { return appendObjectField(b, 1, o) }

// AppendListResponse appends page encoded as a ListResponse.
func AppendListResponse(b []byte, page storage.ListPage) []byte {
	for _, o := range page.Objects {
		b = appendObjectField(b, 1, o)
	}
	return appendString(b, 2, page.Next)
}

// ValidObject reports whether o's strings can travel (proto3 strings are
// UTF-8).
func ValidObject(o storage.ObjectInfo) bool {
	return utf8.ValidString(o.Key) && utf8.ValidString(o.ContentType) && utf8.ValidString(o.ETag)
}

// DecodeJobRequest decodes a JobRequest (field 1, id), the request of the
// frequent compute calls.
func DecodeJobRequest(b []byte) (id string, err error) { return DecodeKeyRequest(b) }

// appendTime appends t as a google.protobuf.Timestamp field, unless zero.
func appendTime(b []byte, num protowire.Number, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	var ts []byte
	ts = appendVarint(ts, 1, uint64(t.Unix()))
	ts = appendVarint(ts, 2, uint64(int64(t.Nanosecond())))
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, ts)
}

// appendMap appends m as a map<string, string> field, keys sorted as
// protobuf-go's deterministic output sorts them. Entries carry their key
// and value even when empty, as protobuf-go writes them.
func appendMap(b []byte, num protowire.Number, m map[string]string) []byte {
	// Sorting on a stack array: slices.Sorted(maps.Keys(m)) costs ~15µs
	// inside a module, a good part of a Status call.
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := protowire.AppendTag(nil, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, m[k])
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b
}

// AppendJobStatus appends s encoded as a JobStatus.
func AppendJobStatus(b []byte, s compute.Status) []byte {
	b = appendString(b, 1, string(s.ID))
	b = appendString(b, 2, s.Name)
	b = appendString(b, 3, string(s.State))
	b = appendString(b, 4, s.Message)
	b = appendVarint(b, 5, uint64(int64(int32(s.ExitCode))))
	b = appendTime(b, 6, s.Created)
	b = appendTime(b, 7, s.Started)
	b = appendTime(b, 8, s.Finished)
	b = appendMap(b, 9, s.Details)
	return appendMap(b, 10, s.Labels)
}

// ValidStatus reports whether s's strings can travel (proto3 strings are
// UTF-8).
func ValidStatus(s compute.Status) bool {
	for _, v := range []string{string(s.ID), s.Name, string(s.State), s.Message} {
		if !utf8.ValidString(v) {
			return false
		}
	}
	for _, m := range []map[string]string{s.Details, s.Labels} {
		for k, v := range m {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

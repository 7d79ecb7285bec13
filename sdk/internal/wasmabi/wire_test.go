package wasmabi

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

func randString(r *rand.Rand) string {
	const chars = "abc/xyz.-é世"
	rs := []rune(chars)
	b := make([]rune, r.IntN(12))
	for i := range b {
		b[i] = rs[r.IntN(len(rs))]
	}
	return string(b)
}

func randObject(r *rand.Rand) storage.ObjectInfo {
	o := storage.ObjectInfo{Key: randString(r), ContentType: randString(r), ETag: randString(r)}
	if r.IntN(3) > 0 {
		o.Size = r.Int64N(1 << 40)
	}
	if r.IntN(3) > 0 {
		o.ModTime = time.Unix(r.Int64N(4e9)-1e9, r.Int64N(1e9)).UTC()
	}
	return o
}

// TestEncodersMatchProtobuf checks the hand-written encoders produce the
// bytes protobuf-go produces for the same pluginpb messages.
func TestEncodersMatchProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	det := proto.MarshalOptions{Deterministic: true}
	for range 500 {
		o := randObject(r)
		want, err := det.Marshal(ObjectToPB(o))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendObjectInfo(nil, o); !bytes.Equal(got, want) {
			t.Fatalf("ObjectInfo %+v:\n got %x\nwant %x", o, got, want)
		}
		want, _ = det.Marshal(&pb.PutResponse{Info: ObjectToPB(o)})
		if got := AppendPutResponse(nil, o); !bytes.Equal(got, want) {
			t.Fatalf("PutResponse %+v:\n got %x\nwant %x", o, got, want)
		}
		page := storage.ListPage{Next: randString(r)}
		lr := &pb.ListResponse{Next: page.Next}
		for range r.IntN(4) {
			o := randObject(r)
			page.Objects = append(page.Objects, o)
			lr.Objects = append(lr.Objects, ObjectToPB(o))
		}
		want, _ = det.Marshal(lr)
		if got := AppendListResponse(nil, page); !bytes.Equal(got, want) {
			t.Fatalf("ListResponse %+v:\n got %x\nwant %x", page, got, want)
		}
	}
}

// TestDecodersMatchProtobuf checks the hand-written decoders read what
// protobuf-go writes.
func TestDecodersMatchProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		key := randString(r)
		b, _ := proto.Marshal(&pb.StatRequest{Key: key})
		if got, err := DecodeKeyRequest(b); err != nil || got != key {
			t.Fatalf("StatRequest %q: %q, %v", key, got, err)
		}
		gr := &pb.GetRequest{Key: key}
		if r.IntN(2) == 0 {
			gr.Range = &pb.Range{Offset: r.Int64N(1 << 40), Length: r.Int64N(1<<40) - 1}
		}
		b, _ = proto.Marshal(gr)
		gk, rng, err := DecodeGetRequest(b)
		if err != nil || gk != key || (rng == nil) != (gr.Range == nil) || (rng != nil && (rng.Offset != gr.Range.Offset || rng.Length != gr.Range.Length)) {
			t.Fatalf("GetRequest %v: %q %+v %v", gr, gk, rng, err)
		}
		ph := &pb.PutHeader{Key: key, ContentType: randString(r), IfAbsent: r.IntN(2) == 0}
		b, _ = proto.Marshal(ph)
		pk, opts, err := DecodePutHeader(b)
		if err != nil || pk != key || opts.ContentType != ph.ContentType || opts.IfAbsent != ph.IfAbsent {
			t.Fatalf("PutHeader %v: %q %+v %v", ph, pk, opts, err)
		}
		lq := &pb.ListRequest{Prefix: randString(r), After: randString(r), Limit: r.Int32N(5000)}
		b, _ = proto.Marshal(lq)
		lo, err := DecodeListRequest(b)
		if err != nil || lo.Prefix != lq.Prefix || lo.After != lq.After || lo.Limit != int(lq.Limit) {
			t.Fatalf("ListRequest %v: %+v %v", lq, lo, err)
		}
	}
	// Unknown fields are skipped, as protobuf does.
	b, _ := proto.Marshal(&pb.PutHeader{Key: "k", ContentType: "t", IfAbsent: true})
	if key, err := DecodeKeyRequest(b); err != nil || key != "k" {
		t.Errorf("key request with extra fields: %q, %v", key, err)
	}
}

// FuzzDecoders checks the hand-written decoders accept what protobuf-go
// accepts, agree with it, and refuse without panicking what it refuses.
func FuzzDecoders(f *testing.F) {
	for _, m := range []proto.Message{
		&pb.GetRequest{Key: "a/b", Range: &pb.Range{Offset: 3, Length: -1}},
		&pb.PutHeader{Key: "k", ContentType: "text/plain", IfAbsent: true},
		&pb.ListRequest{Prefix: "p", After: "a", Limit: 7},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var gr pb.GetRequest
		perr := proto.Unmarshal(b, &gr)
		key, rng, err := DecodeGetRequest(b)
		if perr == nil {
			if err != nil || key != gr.Key || (rng == nil) != (gr.Range == nil) || (rng != nil && (rng.Offset != gr.Range.Offset || rng.Length != gr.Range.Length)) {
				t.Fatalf("GetRequest %x: protobuf %v, hand %q %+v %v", b, &gr, key, rng, err)
			}
		}
		var lq pb.ListRequest
		perr = proto.Unmarshal(b, &lq)
		lo, err := DecodeListRequest(b)
		if perr == nil && (err != nil || lo.Prefix != lq.Prefix || lo.After != lq.After || lo.Limit != int(lq.Limit)) {
			t.Fatalf("ListRequest %x: protobuf %v, hand %+v %v", b, &lq, lo, err)
		}
		var ph pb.PutHeader
		perr = proto.Unmarshal(b, &ph)
		pk, opts, err := DecodePutHeader(b)
		if perr == nil && (err != nil || pk != ph.Key || opts.ContentType != ph.ContentType || opts.IfAbsent != ph.IfAbsent) {
			t.Fatalf("PutHeader %x: protobuf %v, hand %q %+v %v", b, &ph, pk, opts, err)
		}
	})
}

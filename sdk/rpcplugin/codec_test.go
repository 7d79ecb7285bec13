package rpcplugin

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
)

// FuzzChunkCodec checks that chunkCodec decodes every message as the proto
// codec does, chunks included, and reuses its buffer without corrupting a
// later message.
func FuzzChunkCodec(f *testing.F) {
	for _, m := range []*pb.GetResponse{
		{Msg: &pb.GetResponse_Chunk{Chunk: []byte("hello")}},
		{Msg: &pb.GetResponse_Chunk{Chunk: []byte{}}},
		{Msg: &pb.GetResponse_Info{Info: &pb.ObjectInfo{Key: "k", Size: 5}}},
		{Msg: &pb.GetResponse_Handoff{Handoff: &pb.Handoff{Kind: pb.Handoff_KIND_FILE, Offset: 1, Length: 2}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x05, 'a'})       // truncated chunk
	f.Add([]byte{0x12, 0x01, 'a', 0x12}) // a chunk followed by junk
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &chunkCodec{CodecV2: encoding.GetCodecV2("proto")}
		got := new(pb.GetResponse)
		gerr := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bytes.Clone(b))}, got)
		want := new(pb.GetResponse)
		werr := proto.Unmarshal(b, want)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("chunkCodec error %v, proto error %v", gerr, werr)
		}
		if gerr != nil {
			return
		}
		if !proto.Equal(got, want) {
			t.Fatalf("chunkCodec decoded %v, proto %v", got, want)
		}
		// The next message reuses the buffer; a non-chunk message must
		// not alias it.
		snapshot := proto.Clone(got)
		next, _ := proto.Marshal(&pb.GetResponse{Msg: &pb.GetResponse_Chunk{Chunk: bytes.Repeat([]byte{0xAA}, len(b))}})
		if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(next)}, new(pb.GetResponse)); err != nil {
			t.Fatal(err)
		}
		if _, isChunk := got.Msg.(*pb.GetResponse_Chunk); !isChunk && !proto.Equal(got, snapshot) {
			t.Fatalf("a %T was changed by the next message", got.Msg)
		}
	})
}

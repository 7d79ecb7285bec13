package rpcplugin

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec chunkCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
)

// chunkCodec decodes the chunks of one Get stream into a buffer it reuses,
// where the proto codec would allocate a new slice per chunk (a gigabyte
// of garbage per gigabyte streamed). This is safe because the stream's
// reader hands out every byte of a chunk before it receives the next.
// Every other message goes through the proto codec.
type chunkCodec struct {
	encoding.CodecV2
	buf []byte
}

// chunkCallOption gives one Get stream its own chunkCodec.
func chunkCallOption() grpc.CallOption {
	return grpc.ForceCodecV2(&chunkCodec{CodecV2: encoding.GetCodecV2("proto")})
}

func (c *chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*pb.GetResponse)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	n := data.Len()
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	b := c.buf[:n]
	data.CopyTo(b)
	// A chunk is the single field 2 (bytes); anything else, or anything
	// unexpected, is left to the proto codec, which copies what it keeps.
	if num, typ, tn := protowire.ConsumeTag(b); tn > 0 && num == 2 && typ == protowire.BytesType {
		if chunk, cn := protowire.ConsumeBytes(b[tn:]); cn > 0 && tn+cn == n {
			m.Msg = &pb.GetResponse_Chunk{Chunk: chunk}
			return nil
		}
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decoding a get stream message: %w", err)
	}
	return nil
}

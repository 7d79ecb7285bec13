package rpcplugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/internal/pbconv"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wireerr"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// ChunkSize is the largest number of bytes one stream message carries.
const ChunkSize = 256 << 10

// The server side runs in the plugin process and calls the author's backend.

type lifecycleServer struct {
	pb.UnimplementedLifecycleServer
	p plugin.Plugin
}

func (s *lifecycleServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	i, err := s.p.Info(ctx)
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return toInfo(i), nil
}

func (s *lifecycleServer) Configure(ctx context.Context, r *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := s.p.Configure(ctx, plugin.Config(r.Config)); err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *lifecycleServer) Close(ctx context.Context, _ *pb.CloseRequest) (*pb.CloseResponse, error) {
	if err := s.p.Close(ctx); err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return &pb.CloseResponse{}, nil
}

// sendAll streams r in chunks through send. It uses plain Read, not
// ReadFull, so a followed log line goes out as soon as it is written.
func sendAll(r io.Reader, send func([]byte) error) error {
	buf := make([]byte, ChunkSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if serr := send(buf[:n]); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return wireerr.ToStatus(err)
		}
	}
}

type storageServer struct {
	pb.UnimplementedStorageServer
	b   storage.Backend
	fds *fdSender // nil without a descriptor channel
}

func (s *storageServer) Get(r *pb.GetRequest, stream pb.Storage_GetServer) error {
	var opts storage.GetOptions
	if r.Range != nil {
		opts.Range = &storage.Range{Offset: r.Range.Offset, Length: r.Range.Length}
	}
	rc, info, err := s.b.Get(stream.Context(), r.Key, opts)
	if err != nil {
		return wireerr.ToStatus(err)
	}
	defer rc.Close()
	if err := stream.Send(&pb.GetResponse{Msg: &pb.GetResponse_Info{Info: toObject(info)}}); err != nil {
		return err
	}
	if r.DescriptorId != 0 && s.fds != nil {
		if handled, err := s.sendByDescriptor(stream, r.DescriptorId, rc); handled {
			return err
		}
	}
	return sendAll(rc, func(b []byte) error { return stream.Send(&pb.GetResponse{Msg: &pb.GetResponse_Chunk{Chunk: b}}) })
}

// putReader turns the chunks of a Put stream back into an io.Reader.
type putReader struct {
	stream pb.Storage_PutServer
	buf    []byte
	err    error
}

func (p *putReader) Read(b []byte) (int, error) {
	for len(p.buf) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		m, err := p.stream.Recv()
		if err == io.EOF {
			p.err = io.EOF
			continue
		}
		if err != nil {
			// The host cancelled the stream: the object is incomplete.
			p.err = fmt.Errorf("put stream broken: %w", err)
			if cerr := p.stream.Context().Err(); cerr != nil {
				p.err = cerr
			}
			continue
		}
		c, ok := m.Msg.(*pb.PutRequest_Chunk)
		if !ok {
			p.err = errors.New("put stream: header after the first message")
			continue
		}
		p.buf = c.Chunk
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (s *storageServer) Put(stream pb.Storage_PutServer) error {
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	h := m.GetHeader()
	if h == nil {
		return wireerr.ToStatus(fmt.Errorf("%w: put stream must start with a header", plugin.ErrInternal))
	}
	info, err := s.b.Put(stream.Context(), h.Key, &putReader{stream: stream}, storage.PutOptions{ContentType: h.ContentType, IfAbsent: h.IfAbsent})
	if err != nil {
		return wireerr.ToStatus(err)
	}
	return stream.SendAndClose(&pb.PutResponse{Info: toObject(info)})
}

func (s *storageServer) Stat(ctx context.Context, r *pb.StatRequest) (*pb.ObjectInfo, error) {
	info, err := s.b.Stat(ctx, r.Key)
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return toObject(info), nil
}

func (s *storageServer) Delete(ctx context.Context, r *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	if err := s.b.Delete(ctx, r.Key); err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return &pb.DeleteResponse{}, nil
}

func (s *storageServer) List(ctx context.Context, r *pb.ListRequest) (*pb.ListResponse, error) {
	page, err := s.b.List(ctx, storage.ListOptions{Prefix: r.Prefix, After: r.After, Limit: int(r.Limit)})
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	resp := &pb.ListResponse{Next: page.Next}
	for _, o := range page.Objects {
		resp.Objects = append(resp.Objects, toObject(o))
	}
	return resp, nil
}

type computeServer struct {
	pb.UnimplementedComputeServer
	b compute.Backend
}

func (s *computeServer) Submit(ctx context.Context, r *pb.SubmitRequest) (*pb.SubmitResponse, error) {
	id, err := s.b.Submit(ctx, pbconv.SpecFromPB(r.Spec))
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return &pb.SubmitResponse{Id: string(id)}, nil
}

func (s *computeServer) Status(ctx context.Context, r *pb.JobRequest) (*pb.JobStatus, error) {
	st, err := s.b.Status(ctx, compute.JobID(r.Id))
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return pbconv.StatusToPB(st), nil
}

func (s *computeServer) Logs(r *pb.LogsRequest, stream pb.Compute_LogsServer) error {
	rc, err := s.b.Logs(stream.Context(), compute.JobID(r.Id), compute.LogOptions{Follow: r.Follow})
	if err != nil {
		return wireerr.ToStatus(err)
	}
	// Closing the backend's reader when the host goes away releases a
	// follower blocked waiting for new lines.
	stop := context.AfterFunc(stream.Context(), func() { rc.Close() })
	defer stop()
	defer rc.Close()
	// An empty first chunk tells the host the stream is open, so Logs can
	// report errors before returning a reader.
	if err := stream.Send(&pb.Chunk{}); err != nil {
		return err
	}
	return sendAll(rc, func(b []byte) error { return stream.Send(&pb.Chunk{Data: b}) })
}

func (s *computeServer) Stop(ctx context.Context, r *pb.JobRequest) (*pb.StopResponse, error) {
	if err := s.b.Stop(ctx, compute.JobID(r.Id)); err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return &pb.StopResponse{}, nil
}

func (s *computeServer) List(ctx context.Context, r *pb.JobListRequest) (*pb.JobListResponse, error) {
	opts := compute.ListOptions{After: compute.JobID(r.After), Limit: int(r.Limit)}
	for _, st := range r.States {
		opts.States = append(opts.States, compute.State(st))
	}
	page, err := s.b.List(ctx, opts)
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	resp := &pb.JobListResponse{Next: string(page.Next)}
	for _, j := range page.Jobs {
		resp.Jobs = append(resp.Jobs, pbconv.StatusToPB(j))
	}
	return resp, nil
}

func (s *computeServer) Results(ctx context.Context, r *pb.JobRequest) (*pb.ResultsResponse, error) {
	rs, err := s.b.Results(ctx, compute.JobID(r.Id))
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	resp := &pb.ResultsResponse{}
	for _, x := range rs {
		resp.Results = append(resp.Results, pbconv.ResultToPB(x))
	}
	return resp, nil
}

func (s *computeServer) OpenResult(r *pb.OpenResultRequest, stream pb.Compute_OpenResultServer) error {
	rc, res, err := s.b.OpenResult(stream.Context(), compute.JobID(r.Id), r.Name)
	if err != nil {
		return wireerr.ToStatus(err)
	}
	defer rc.Close()
	if err := stream.Send(&pb.OpenResultResponse{Msg: &pb.OpenResultResponse_Result{Result: pbconv.ResultToPB(res)}}); err != nil {
		return err
	}
	return sendAll(rc, func(b []byte) error {
		return stream.Send(&pb.OpenResultResponse{Msg: &pb.OpenResultResponse_Chunk{Chunk: b}})
	})
}

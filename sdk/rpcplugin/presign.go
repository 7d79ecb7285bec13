package rpcplugin

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wireerr"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Presigning is optional: the host-side client always has the method, and
// answers errors.ErrUnsupported without a round trip when the plugin does
// not declare storage.CapPresign.

var _ storage.Presigner = (*storageClient)(nil)

// Presign asks the plugin for a presigned URL. See storage.Presigner.
func (c *storageClient) Presign(ctx context.Context, key string, opts storage.PresignOptions) (string, error) {
	if err := c.storageCheck("presign", key); err != nil {
		return "", err
	}
	if !c.info.Load().Has(storage.CapPresign) {
		return "", &storage.Error{Op: "presign", Key: key, Err: fmt.Errorf("plugin %s does not declare %s: %w", c.who, storage.CapPresign, errors.ErrUnsupported)}
	}
	if !validMethod(opts.Method) {
		return "", &storage.Error{Op: "presign", Key: key, Err: fmt.Errorf("method %q: %w", opts.Method, errors.ErrUnsupported)}
	}
	req := &pb.PresignRequest{Key: key, Method: opts.Method}
	if opts.Expires != 0 {
		req.Expires = durationpb.New(opts.Expires)
	}
	r, err := c.c.Presign(ctx, req)
	if err != nil {
		return "", c.err(err)
	}
	return r.Url, nil
}

// validMethod keeps odd bytes off the wire (protobuf strings are UTF-8);
// the plugin judges which of the two it supports.
func validMethod(m string) bool { return m == "GET" || m == "PUT" }

func (s *storageServer) Presign(ctx context.Context, r *pb.PresignRequest) (*pb.PresignResponse, error) {
	p, ok := s.b.(storage.Presigner)
	if !ok {
		return nil, wireerr.ToStatus(&storage.Error{Op: "presign", Key: r.Key, Err: fmt.Errorf("backend cannot presign: %w", errors.ErrUnsupported)})
	}
	opts := storage.PresignOptions{Method: r.Method}
	if r.Expires != nil {
		opts.Expires = r.Expires.AsDuration()
	}
	url, err := p.Presign(ctx, r.Key, opts)
	if err != nil {
		return nil, wireerr.ToStatus(err)
	}
	return &pb.PresignResponse{Url: url}, nil
}

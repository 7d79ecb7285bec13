package rpcplugin

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// The conversions between the SDK's types and the wire's. A zero time
// travels as an absent timestamp so it comes back zero, not 1970.

func toTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func toInfo(i plugin.Info) *pb.InfoResponse {
	caps := make([]string, len(i.Capabilities))
	for n, c := range i.Capabilities {
		caps[n] = string(c)
	}
	return &pb.InfoResponse{Kind: string(i.Kind), Name: i.Name, Version: i.Version, ApiVersion: int32(i.APIVersion), Capabilities: caps}
}

func fromInfo(r *pb.InfoResponse) plugin.Info {
	i := plugin.Info{Kind: plugin.Kind(r.Kind), Name: r.Name, Version: r.Version, APIVersion: int(r.ApiVersion)}
	for _, c := range r.Capabilities {
		i.Capabilities = append(i.Capabilities, plugin.Capability(c))
	}
	return i
}

func toObject(o storage.ObjectInfo) *pb.ObjectInfo {
	return &pb.ObjectInfo{Key: o.Key, Size: o.Size, ContentType: o.ContentType, Etag: o.ETag, ModTime: toTime(o.ModTime)}
}

func fromObject(o *pb.ObjectInfo) storage.ObjectInfo {
	if o == nil {
		return storage.ObjectInfo{}
	}
	return storage.ObjectInfo{Key: o.Key, Size: o.Size, ContentType: o.ContentType, ETag: o.Etag, ModTime: fromTime(o.ModTime)}
}

// Package pbconv converts the sdk's compute types to and from the wire
// messages of sdk/internal/pluginpb. The process runtime (rpcplugin) and the
// WASM ABI (wasmabi, wasmguest, wasmhost) both use it, so a JobSpec crosses
// either boundary the same way.
package pbconv

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/nvm-node/nvm-node/sdk/compute"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
)

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

// SpecToPB converts a compute.JobSpec.
func SpecToPB(s compute.JobSpec) *pb.JobSpec {
	p := &pb.JobSpec{
		Name: s.Name, Owner: s.Owner, Args: s.Args, Env: s.Env, Params: s.Params, Labels: s.Labels,
		Algorithm: &pb.Algorithm{Ref: s.Algorithm.Ref, Digest: s.Algorithm.Digest, Entrypoint: s.Algorithm.Entrypoint},
		Resources: &pb.Resources{
			CpuMillis: s.Resources.CPUMillis, MemoryBytes: s.Resources.MemoryBytes, DiskBytes: s.Resources.DiskBytes,
			Gpus: int32(s.Resources.GPUs), Network: s.Resources.Network,
		},
	}
	if s.Resources.Timeout != 0 {
		p.Resources.Timeout = durationpb.New(s.Resources.Timeout)
	}
	for _, in := range s.Inputs {
		p.Inputs = append(p.Inputs, &pb.Input{Name: in.Name, Url: in.URL, Digest: in.Digest, Path: in.Path})
	}
	for _, out := range s.Outputs {
		p.Outputs = append(p.Outputs, &pb.Output{Name: out.Name, Path: out.Path})
	}
	if f := s.Federated; f != nil {
		p.Federated = &pb.Federated{
			Role: string(f.Role), Session: f.Session, Rounds: int32(f.Rounds),
			MinParticipants: int32(f.MinParticipants), Aggregator: f.Aggregator,
		}
		for _, pt := range f.Participants {
			p.Federated.Participants = append(p.Federated.Participants, &pb.Participant{Node: pt.Node, Workflow: pt.Workflow})
		}
	}
	return p
}

// SpecFromPB converts back.
func SpecFromPB(p *pb.JobSpec) compute.JobSpec {
	if p == nil {
		return compute.JobSpec{}
	}
	s := compute.JobSpec{Name: p.Name, Owner: p.Owner, Args: p.Args, Env: p.Env, Params: p.Params, Labels: p.Labels}
	if a := p.Algorithm; a != nil {
		s.Algorithm = compute.Algorithm{Ref: a.Ref, Digest: a.Digest, Entrypoint: a.Entrypoint}
	}
	if r := p.Resources; r != nil {
		s.Resources = compute.Resources{
			CPUMillis: r.CpuMillis, MemoryBytes: r.MemoryBytes, DiskBytes: r.DiskBytes,
			GPUs: int(r.Gpus), Network: r.Network,
		}
		if r.Timeout != nil {
			s.Resources.Timeout = r.Timeout.AsDuration()
		}
	}
	for _, in := range p.Inputs {
		s.Inputs = append(s.Inputs, compute.Input{Name: in.Name, URL: in.Url, Digest: in.Digest, Path: in.Path})
	}
	for _, out := range p.Outputs {
		s.Outputs = append(s.Outputs, compute.Output{Name: out.Name, Path: out.Path})
	}
	if f := p.Federated; f != nil {
		s.Federated = &compute.Federated{
			Role: compute.Role(f.Role), Session: f.Session, Rounds: int(f.Rounds),
			MinParticipants: int(f.MinParticipants), Aggregator: f.Aggregator,
		}
		for _, pt := range f.Participants {
			s.Federated.Participants = append(s.Federated.Participants, compute.Participant{Node: pt.Node, Workflow: pt.Workflow})
		}
	}
	return s
}

// StatusToPB converts a compute.Status.
func StatusToPB(s compute.Status) *pb.JobStatus {
	return &pb.JobStatus{
		Id: string(s.ID), Name: s.Name, State: string(s.State), Message: s.Message, ExitCode: int32(s.ExitCode),
		Created: toTime(s.Created), Started: toTime(s.Started), Finished: toTime(s.Finished), Details: s.Details, Labels: s.Labels,
	}
}

// StatusFromPB converts back.
func StatusFromPB(p *pb.JobStatus) compute.Status {
	if p == nil {
		return compute.Status{}
	}
	return compute.Status{
		ID: compute.JobID(p.Id), Name: p.Name, State: compute.State(p.State), Message: p.Message, ExitCode: int(p.ExitCode),
		Created: fromTime(p.Created), Started: fromTime(p.Started), Finished: fromTime(p.Finished), Details: p.Details, Labels: p.Labels,
	}
}

// ResultToPB converts a compute.Result.
func ResultToPB(r compute.Result) *pb.Result {
	return &pb.Result{Name: r.Name, Size: r.Size, ContentType: r.ContentType}
}

// ResultFromPB converts back.
func ResultFromPB(p *pb.Result) compute.Result {
	if p == nil {
		return compute.Result{}
	}
	return compute.Result{Name: p.Name, Size: p.Size, ContentType: p.ContentType}
}

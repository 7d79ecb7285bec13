package pbconv

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/compute"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
)

// TestComputeConversions checks every field of a spec, a status and a
// result survives encoding and decoding.
func TestComputeConversions(t *testing.T) {
	spec := compute.JobSpec{
		Name: "n", Owner: "0xabc",
		Algorithm: compute.Algorithm{Ref: "r", Digest: "sha256:00", Entrypoint: []string{"main"}},
		Args:      []string{"a", "b"}, Env: map[string]string{"K": "V"},
		Inputs:    []compute.Input{{Name: "in", URL: "http://x/y", Digest: "sha256:11", Path: "in/y"}},
		Outputs:   []compute.Output{{Name: "out", Path: "out/z"}},
		Resources: compute.Resources{CPUMillis: 1500, MemoryBytes: 1 << 30, DiskBytes: 2 << 30, GPUs: 1, Timeout: time.Minute, Network: true},
		Federated: &compute.Federated{
			Role: compute.RoleAggregator, Session: "s", Rounds: 3, MinParticipants: 2, Aggregator: "http://agg",
			Participants: []compute.Participant{{Node: "http://p1", Workflow: "did:nv:1"}},
		},
		Params: map[string]string{"p": "1"}, Labels: map[string]string{"l": "2"},
	}
	b, err := proto.Marshal(&pb.SubmitRequest{Spec: SpecToPB(spec)})
	if err != nil {
		t.Fatal(err)
	}
	var r pb.SubmitRequest
	if err := proto.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if got := SpecFromPB(r.Spec); !reflect.DeepEqual(got, spec) {
		t.Errorf("spec round trip:\n got %+v\nwant %+v", got, spec)
	}
	now := time.Unix(1700000000, 123).UTC()
	st := compute.Status{
		ID: "j", Name: "n", State: compute.StateFailed, Message: "m", ExitCode: 2,
		Created: now, Started: now.Add(time.Second), Details: map[string]string{"d": "1"}, Labels: map[string]string{"l": "2"},
	}
	if got := StatusFromPB(StatusToPB(st)); !reflect.DeepEqual(got, st) {
		t.Errorf("status round trip:\n got %+v\nwant %+v", got, st)
	}
	res := compute.Result{Name: "r", Size: 7, ContentType: "text/plain"}
	if got := ResultFromPB(ResultToPB(res)); got != res {
		t.Errorf("result round trip: %+v", got)
	}
	if SpecFromPB(nil).Name != "" || StatusFromPB(nil).ID != "" || ResultFromPB(nil).Name != "" {
		t.Error("nil messages do not convert to zero values")
	}
}

package wasmabi

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/internal/pbconv"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
)

func randMap(r *rand.Rand) map[string]string {
	if r.IntN(3) == 0 {
		return nil
	}
	m := map[string]string{}
	for range r.IntN(4) {
		m[randString(r)] = randString(r)
	}
	return m
}

func randTime(r *rand.Rand) time.Time {
	if r.IntN(3) == 0 {
		return time.Time{}
	}
	return time.Unix(r.Int64N(4e9)-1e9, r.Int64N(1e9)).UTC()
}

// TestCount: OpStep's answer round-trips and a short one is refused.
func TestCount(t *testing.T) {
	if n, err := ParseCount(AppendCount(nil, 42)); n != 42 || err != nil {
		t.Errorf("count round trip: %d, %v", n, err)
	}
	if _, err := ParseCount([]byte{1}); err == nil {
		t.Error("a short count was accepted")
	}
}

// TestJobStatusEncoderMatchesProtobuf checks the hand-written JobStatus
// encoder writes what protobuf-go's deterministic output writes, and the
// JobRequest decoder reads what it writes.
func TestJobStatusEncoderMatchesProtobuf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	det := proto.MarshalOptions{Deterministic: true}
	for range 500 {
		st := compute.Status{
			ID: compute.JobID(randString(r)), Name: randString(r), State: compute.State(randString(r)), Message: randString(r),
			ExitCode: int(r.Int32N(600)) - 300, Created: randTime(r), Started: randTime(r), Finished: randTime(r),
			Details: randMap(r), Labels: randMap(r),
		}
		want, err := det.Marshal(pbconv.StatusToPB(st))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJobStatus(nil, st); !bytes.Equal(got, want) {
			t.Fatalf("AppendJobStatus(%+v) = %x, protobuf = %x", st, got, want)
		}
		if !ValidStatus(st) {
			t.Fatalf("valid status %+v refused", st)
		}
		b, _ := proto.Marshal(&pb.JobRequest{Id: string(st.ID)})
		if id, err := DecodeJobRequest(b); err != nil || id != string(st.ID) {
			t.Fatalf("DecodeJobRequest = %q, %v; want %q", id, err, st.ID)
		}
	}
	if ValidStatus(compute.Status{Labels: map[string]string{"\xff": ""}}) {
		t.Error("a label that is not UTF-8 was accepted")
	}
}

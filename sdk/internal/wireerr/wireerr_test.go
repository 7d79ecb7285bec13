package wireerr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

func TestRoundTrip(t *testing.T) {
	for _, e := range table {
		for name, err := range map[string]error{
			"bare":    e.err,
			"wrapped": fmt.Errorf("while doing x: %w", e.err),
			"storage": &storage.Error{Op: "get", Key: "a/b", Err: fmt.Errorf("detail: %w", e.err)},
			"compute": &compute.Error{Op: "status", Job: "job-1", Err: e.err},
		} {
			wire := ToStatus(err)
			if got := status.Code(wire); got != e.code {
				t.Errorf("%s %v: code %v, want %v", name, e.err, got, e.code)
			}
			back := FromStatus("storage.test", wire)
			if !errors.Is(back, e.err) {
				t.Errorf("%s %v: decoded %v does not match its sentinel", name, e.err, back)
			}
			if back.Error() != err.Error() {
				t.Errorf("%s: message %q, want %q", name, back.Error(), err.Error())
			}
			var se *storage.Error
			if errors.As(err, &se) {
				var got *storage.Error
				if !errors.As(back, &got) || got.Op != se.Op || got.Key != se.Key {
					t.Errorf("%s: typed error lost: %#v", name, back)
				}
			}
			var ce *compute.Error
			if errors.As(err, &ce) {
				var got *compute.Error
				if !errors.As(back, &got) || got.Op != ce.Op || got.Job != ce.Job {
					t.Errorf("%s: typed error lost: %#v", name, back)
				}
			}
		}
	}
}

func TestReasonsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range table {
		if seen[e.reason] {
			t.Errorf("reason %q used twice", e.reason)
		}
		seen[e.reason] = true
	}
}

func TestUnknownErrorKeepsMessage(t *testing.T) {
	back := FromStatus("storage.x", ToStatus(errors.New("disk on fire")))
	if back.Error() != "disk on fire" {
		t.Errorf("message %q", back)
	}
	for _, e := range table {
		if errors.Is(back, e.err) {
			t.Errorf("unknown error decoded as %v", e.err)
		}
	}
}

func TestTransportErrors(t *testing.T) {
	for _, tc := range []struct {
		code codes.Code
		want error
	}{
		{codes.Unavailable, plugin.ErrUnavailable},
		{codes.Canceled, context.Canceled},
		{codes.DeadlineExceeded, context.DeadlineExceeded},
		{codes.Unimplemented, errors.ErrUnsupported},
		{codes.Internal, plugin.ErrUnavailable},
		{codes.DataLoss, plugin.ErrInternal},
	} {
		err := FromStatus("storage.s3", status.Error(tc.code, "connection reset"))
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: %v does not wrap %v", tc.code, err, tc.want)
		}
		if !strings.Contains(err.Error(), "storage.s3") {
			t.Errorf("%v: %q does not name the plugin", tc.code, err)
		}
	}
	if FromStatus("x", nil) != nil || ToStatus(nil) != nil {
		t.Error("nil not preserved")
	}
}

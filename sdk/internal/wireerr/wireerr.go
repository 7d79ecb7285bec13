// Package wireerr maps the SDK's errors to gRPC statuses and back, so that
// errors.Is and errors.As hold on the far side of a process boundary. It is
// the one table every transport uses: a sentinel travels as a reason string
// (and a gRPC code, for tools that only see the code), the typed
// storage.Error and compute.Error as their Op and subject, and the message
// as text.
package wireerr

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// entry is one row of the table.
type entry struct {
	err    error
	reason string
	code   codes.Code
}

// table is searched in order, so more specific sentinels come first. The
// reasons are part of the wire protocol: never change one, only add.
var table = []entry{
	{storage.ErrNotFound, "storage.not_found", codes.NotFound},
	{storage.ErrExist, "storage.exist", codes.AlreadyExists},
	{storage.ErrInvalidKey, "storage.invalid_key", codes.InvalidArgument},
	{storage.ErrInvalidRange, "storage.invalid_range", codes.OutOfRange},
	{storage.ErrPermission, "storage.permission", codes.PermissionDenied},
	{compute.ErrJobNotFound, "compute.job_not_found", codes.NotFound},
	{compute.ErrInvalidSpec, "compute.invalid_spec", codes.InvalidArgument},
	{compute.ErrResultNotFound, "compute.result_not_found", codes.NotFound},
	{compute.ErrJobNotFinished, "compute.job_not_finished", codes.FailedPrecondition},
	{compute.ErrQuota, "compute.quota", codes.ResourceExhausted},
	{plugin.ErrClosed, "plugin.closed", codes.FailedPrecondition},
	{plugin.ErrNotConfigured, "plugin.not_configured", codes.FailedPrecondition},
	{plugin.ErrInvalidConfig, "plugin.invalid_config", codes.InvalidArgument},
	{plugin.ErrUnavailable, "plugin.unavailable", codes.Unavailable},
	{plugin.ErrInternal, "plugin.internal", codes.Internal},
	{errors.ErrUnsupported, "unsupported", codes.Unimplemented},
	{context.Canceled, "context.canceled", codes.Canceled},
	{context.DeadlineExceeded, "context.deadline_exceeded", codes.DeadlineExceeded},
}

// ToStatus encodes err as a gRPC status error; nil stays nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	d := &pluginpb.ErrorDetail{Message: err.Error()}
	var se *storage.Error
	var ce *compute.Error
	switch {
	case errors.As(err, &se):
		d.Kind, d.Op, d.Subject, d.Message = "storage", se.Op, se.Key, se.Err.Error()
	case errors.As(err, &ce):
		d.Kind, d.Op, d.Subject, d.Message = "compute", ce.Op, string(ce.Job), ce.Err.Error()
	}
	code := codes.Unknown
	for _, e := range table {
		if errors.Is(err, e.err) {
			d.Reason, code = e.reason, e.code
			break
		}
	}
	st, derr := status.New(code, err.Error()).WithDetails(d)
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}

// Remote is an error decoded from the wire: its text is the remote error's,
// and errors.Is matches the sentinel it carried.
type Remote struct {
	Msg      string
	Sentinel error // nil when the remote error matched no sentinel
}

func (r *Remote) Error() string { return r.Msg }

// Unwrap returns the sentinel, if any.
func (r *Remote) Unwrap() error { return r.Sentinel }

// FromStatus decodes an error received from a gRPC call. who names the
// plugin for errors that did not come from it (the transport failed, the
// process died): those wrap plugin.ErrUnavailable, or the context error.
func FromStatus(who string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("plugin %s: %w", who, err)
	}
	var d *pluginpb.ErrorDetail
	for _, x := range st.Details() {
		if dd, ok := x.(*pluginpb.ErrorDetail); ok {
			d = dd
			break
		}
	}
	if d == nil {
		return fromCode(who, st)
	}
	r := &Remote{Msg: d.Message}
	for _, e := range table {
		if e.reason == d.Reason {
			r.Sentinel = e.err
			break
		}
	}
	switch d.Kind {
	case "storage":
		return &storage.Error{Op: d.Op, Key: d.Subject, Err: r}
	case "compute":
		return &compute.Error{Op: d.Op, Job: compute.JobID(d.Subject), Err: r}
	}
	return r
}

// fromCode handles statuses made by gRPC itself rather than by a plugin.
func fromCode(who string, st *status.Status) error {
	var sentinel error
	switch st.Code() {
	case codes.Canceled:
		sentinel = context.Canceled
	case codes.DeadlineExceeded:
		sentinel = context.DeadlineExceeded
	case codes.Unimplemented:
		sentinel = errors.ErrUnsupported
	case codes.Unavailable, codes.Internal, codes.Unknown, codes.Aborted:
		// Connection reset, process gone, stream torn mid-way.
		sentinel = plugin.ErrUnavailable
	default:
		sentinel = plugin.ErrInternal
	}
	return &Remote{Msg: fmt.Sprintf("plugin %s: %s: %s", who, sentinel, st.Message()), Sentinel: sentinel}
}

package wasmabi

import (
	"encoding/binary"
	"errors"
)

// The compute operations, added to ABI version 1 without changing the
// storage ones: a storage module built before them runs unchanged.
//
// A module cannot run anything between the host's calls: WASI preview 1
// has no threads, and a Go module's goroutines run only while one of its
// exports is executing and yields. So a job's goroutines advance inside
// OpStep, which the host calls on its own schedule while the module
// reports active jobs; every other operation answers without waiting for
// jobs (except Stop and Close, which wait for the job's code to return).
// Job code that computes without blocking must yield now and then
// (runtime.Gosched), or one OpStep runs until the call timeout stops the
// instance.
//
// Logs and OpenResult return a handle (4 bytes, then for OpenResult the
// Result) read with OpRead like a Get stream, except that a StatusOK
// response with no bytes means "nothing yet": the host waits and asks
// again, without holding the instance. That is how a followed log of a
// running job is read without the module ever blocking.
const (
	OpSubmit     Op = 20 // SubmitRequest -> SubmitResponse
	OpStatus     Op = 21 // JobRequest -> JobStatus
	OpLogs       Op = 22 // LogsRequest -> handle
	OpStop       Op = 23 // JobRequest -> StopResponse
	OpJobList    Op = 24 // JobListRequest -> JobListResponse
	OpResults    Op = 25 // JobRequest -> ResultsResponse
	OpOpenResult Op = 26 // OpenResultRequest -> handle + Result
	OpStep       Op = 27 // n = time budget in microseconds -> active jobs (4 bytes little-endian)
)

// AppendCount appends OpStep's answer.
func AppendCount(b []byte, n uint32) []byte { return binary.LittleEndian.AppendUint32(b, n) }

// ParseCount reads OpStep's answer.
func ParseCount(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, errors.New("step response is not a 4-byte count")
	}
	return binary.LittleEndian.Uint32(b), nil
}

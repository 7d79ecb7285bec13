// Package compute defines the interface of an nvm-node compute backend: it
// runs jobs described by a [JobSpec] and reports their state, logs and
// results.
//
// The one interface serves backends as different as a WASM sandbox running
// an algorithm module, a Kubernetes Job per workflow, and a federated
// learning round driven by a coordinator and an aggregator whose participants
// run at other nodes. Backend-specific knobs go in JobSpec.Params; the
// federated roles have their own typed section, JobSpec.Federated.
//
// # Ownership
//
// The backend copies what it keeps of a JobSpec; the caller may reuse it
// after Submit returns. Readers returned by Logs and OpenResult belong to
// the caller, who must close them; they stay valid after the call's context
// is done.
//
// # Concurrency and context
//
// Backends are safe for concurrent use (see package plugin). A job outlives
// the context of the Submit that started it: cancelling that context aborts
// the submission, not the job; Stop ends a job.
//
// # Errors
//
// Errors wrap one of the sentinels below, the sentinels of package plugin,
// errors.ErrUnsupported or a context error, usually inside an [*Error].
package compute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// APIVersion is the version of this package's Backend interface.
const APIVersion = 1

// Optional features a compute backend declares in its Info.
const (
	// CapLogsFollow: Logs honours LogOptions.Follow.
	CapLogsFollow plugin.Capability = "compute.logs-follow"
	// CapFederated: the backend runs JobSpec.Federated jobs.
	CapFederated plugin.Capability = "compute.federated"
	// CapGPU: the backend honours Resources.GPUs.
	CapGPU plugin.Capability = "compute.gpu"
	// CapNetwork: jobs may be granted network access (Resources.Network).
	CapNetwork plugin.Capability = "compute.network"
)

// Sentinel errors of compute backends; test them with errors.Is.
var (
	// ErrJobNotFound: no job has the id.
	ErrJobNotFound = errors.New("job not found")
	// ErrInvalidSpec: the JobSpec is incomplete or asks for something the
	// backend cannot provide.
	ErrInvalidSpec = errors.New("invalid job spec")
	// ErrResultNotFound: the job has no output of that name, or not yet.
	ErrResultNotFound = errors.New("job result not found")
	// ErrJobNotFinished: the operation needs a finished job.
	ErrJobNotFinished = errors.New("job not finished")
	// ErrQuota: the backend refuses the job for lack of capacity.
	ErrQuota = errors.New("compute quota exceeded")
)

// Error records a failed compute operation, in the manner of fs.PathError.
type Error struct {
	Op  string // "submit", "status", "logs", "stop", "list", "results", "open-result"
	Job JobID  // empty for submit and list
	Err error
}

func (e *Error) Error() string {
	if e.Job == "" {
		return "compute " + e.Op + ": " + e.Err.Error()
	}
	return fmt.Sprintf("compute %s %q: %v", e.Op, string(e.Job), e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// JobID identifies a job within one backend. Backends choose it; it is
// opaque to the caller and safe to print.
type JobID string

// JobSpec describes a job.
type JobSpec struct {
	// Name is a human label for logs and listings; not unique.
	Name string
	// Owner is the address of the consumer the job runs for, as the node
	// authorized it. Backends may use it for quotas and labels.
	Owner string
	// Algorithm is what to run.
	Algorithm Algorithm
	// Args are passed to the algorithm's entry point.
	Args []string
	// Env is the algorithm's environment.
	Env map[string]string
	// Inputs are the data the algorithm reads.
	Inputs []Input
	// Outputs are the files the algorithm writes and the node publishes.
	Outputs []Output
	// Resources bound the job.
	Resources Resources
	// Federated, when set, makes this job one role in a federated learning
	// round. Backends without CapFederated refuse it with ErrInvalidSpec.
	Federated *Federated
	// Params are backend-specific settings (for example a Kubernetes
	// namespace or node selector). A backend refuses keys it does not know
	// with ErrInvalidSpec rather than ignoring them.
	Params map[string]string
	// Labels are the node's own tags for the job (agreement id, DID...).
	// Backends keep them unchanged, return them in Status, and may attach
	// them to what they create (Kubernetes labels).
	Labels map[string]string
}

// Algorithm names the code a job runs.
type Algorithm struct {
	// Ref is interpreted by the backend: a container image reference for
	// Kubernetes, a storage URL or key of a WASM module for the WASM
	// backend, an algorithm DID resolved by the node.
	Ref string
	// Digest, when set ("sha256:<hex>"), pins the content of Ref; a backend
	// refuses to run code that does not match it.
	Digest string
	// Entrypoint overrides the default entry point (a container command or
	// an exported WASM function).
	Entrypoint []string
}

// Input is one piece of data a job reads.
type Input struct {
	// Name identifies the input within the job.
	Name string
	// URL is where the backend fetches it (for example the node's own
	// download endpoint for an asset file, with a job-scoped token).
	URL string
	// Digest, when set ("sha256:<hex>"), pins the content.
	Digest string
	// Path is where the algorithm sees it, relative to the job's input
	// directory.
	Path string
}

// Output is one result a job produces.
type Output struct {
	// Name identifies the output; OpenResult takes it.
	Name string
	// Path is where the algorithm writes it, relative to the job's output
	// directory.
	Path string
}

// Resources bound a job. Zero values mean the backend's defaults.
type Resources struct {
	CPUMillis   int64         // thousandths of a CPU core
	MemoryBytes int64         // memory limit
	DiskBytes   int64         // scratch space limit
	GPUs        int           // needs CapGPU
	Timeout     time.Duration // wall-clock limit, after which the job fails
	Network     bool          // needs CapNetwork; jobs get no network otherwise
}

// Role is a job's role in a federated round.
type Role string

// Federated roles. Participants run at other nodes; this node runs the
// coordinator and the aggregator.
const (
	RoleCoordinator Role = "coordinator"
	RoleAggregator  Role = "aggregator"
	RoleParticipant Role = "participant"
)

// Federated is the federated learning section of a JobSpec.
type Federated struct {
	Role Role
	// Session identifies the federated session all roles share.
	Session string
	// Rounds is the number of training rounds.
	Rounds int
	// MinParticipants is how many participants must report in a round for
	// the aggregate to be computed.
	MinParticipants int
	// Participants are the other nodes' endpoints and the workflow each
	// trains on.
	Participants []Participant
	// Aggregator is the aggregator's endpoint, for coordinator and
	// participant roles.
	Aggregator string
}

// Participant is one training party in a federated round.
type Participant struct {
	// Node is the participant node's base URL.
	Node string
	// Workflow is the DID of the compute workflow the participant runs.
	Workflow string
}

// State is a job's state.
type State string

// Job states. A job moves from Pending to Running to one of the final
// states, possibly skipping Running.
const (
	StatePending   State = "pending"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateStopped   State = "stopped"
)

// Final reports whether s is a final state.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateFailed || s == StateStopped
}

// Status is a job's current state.
type Status struct {
	ID    JobID
	Name  string
	State State
	// Message explains the state, in particular a failure.
	Message  string
	ExitCode int
	Created  time.Time
	Started  time.Time // zero until running
	Finished time.Time // zero until final
	// Details are backend-specific facts (a Kubernetes pod name, the
	// current federated round...).
	Details map[string]string
	// Labels are the spec's labels.
	Labels map[string]string
}

// LogOptions modify Logs.
type LogOptions struct {
	// Follow keeps the stream open until the job finishes, delivering new
	// lines as they come (needs CapLogsFollow). Without it the stream ends
	// at the logs written so far.
	Follow bool
}

// ListOptions select a page of List.
type ListOptions struct {
	// States keeps only jobs in one of these states; empty keeps all.
	States []State
	// After keeps only jobs listed after this id; pass the previous page's
	// Next.
	After JobID
	// Limit caps the page size; zero means the backend's default.
	Limit int
}

// ListPage is one page of List, oldest job first.
type ListPage struct {
	Jobs []Status
	// Next is the After of the next page, or "" when this was the last one.
	Next JobID
}

// Result describes one output of a finished job.
type Result struct {
	Name        string
	Size        int64
	ContentType string
}

// Backend is a compute backend. See the package documentation for the rules
// on ownership, concurrency, context and errors.
type Backend interface {
	plugin.Plugin

	// Submit validates spec and starts a job; it returns once the job is
	// accepted, not when it finishes.
	Submit(ctx context.Context, spec JobSpec) (JobID, error)
	// Status returns the job's current state.
	Status(ctx context.Context, id JobID) (Status, error)
	// Logs opens the job's combined output.
	Logs(ctx context.Context, id JobID, opts LogOptions) (io.ReadCloser, error)
	// Stop ends the job; its state becomes StateStopped. Stopping a job in a
	// final state does nothing and returns nil.
	Stop(ctx context.Context, id JobID) error
	// List returns a page of jobs.
	List(ctx context.Context, opts ListOptions) (ListPage, error)
	// Results lists the outputs of a succeeded job; other states give an
	// error wrapping ErrJobNotFinished (or the failure).
	Results(ctx context.Context, id JobID) ([]Result, error)
	// OpenResult opens one output of a succeeded job for reading.
	OpenResult(ctx context.Context, id JobID, name string) (io.ReadCloser, Result, error)
}

// Validate checks what every backend requires of a spec, so backends and the
// node agree on the basics. It returns an error wrapping ErrInvalidSpec.
func (s *JobSpec) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, a...)...)
	}
	if s.Algorithm.Ref == "" && s.Federated == nil {
		return bad("algorithm ref is empty")
	}
	seen := map[string]bool{}
	for _, in := range s.Inputs {
		if in.Name == "" || seen["in:"+in.Name] {
			return bad("input name %q is empty or repeated", in.Name)
		}
		seen["in:"+in.Name] = true
		if !relPath(in.Path) {
			return bad("input %q: path %q must be relative and stay inside the input directory", in.Name, in.Path)
		}
	}
	for _, out := range s.Outputs {
		if out.Name == "" || seen["out:"+out.Name] {
			return bad("output name %q is empty or repeated", out.Name)
		}
		seen["out:"+out.Name] = true
		if !relPath(out.Path) {
			return bad("output %q: path %q must be relative and stay inside the output directory", out.Name, out.Path)
		}
	}
	r := s.Resources
	if r.CPUMillis < 0 || r.MemoryBytes < 0 || r.DiskBytes < 0 || r.GPUs < 0 || r.Timeout < 0 {
		return bad("negative resource limit")
	}
	if f := s.Federated; f != nil {
		switch f.Role {
		case RoleCoordinator, RoleAggregator, RoleParticipant:
		default:
			return bad("unknown federated role %q", f.Role)
		}
		if f.Session == "" || f.Rounds <= 0 || f.MinParticipants < 0 {
			return bad("federated session, rounds and min participants are required")
		}
	}
	return nil
}

// relPath reports whether p is a non-empty relative slash path with no ".."
// element, the same rule as storage keys.
func relPath(p string) bool {
	if p == "" || p[0] == '/' || len(p) > 1024 {
		return false
	}
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			elem := p[start:i]
			if elem == "" || elem == "." || elem == ".." {
				return false
			}
			start = i + 1
		} else if p[i] == 0 || p[i] == '\\' {
			return false
		}
	}
	return true
}

package breakerbox

import (
	"errors"
	"fmt"
	"strings"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrOpen matches (errors.Is) every *OpenError: the call was not made
// because its circuit does not admit calls now.
var ErrOpen = errors.New("breakerbox: circuit open")

// ErrServiceUnavailable matches an *OpenError of the fail-closed policy: the
// call was refused because Breakerbox could not be reached.
var ErrServiceUnavailable = errors.New("breakerbox: service unavailable (fail closed)")

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("breakerbox: client closed")

// OpenError says why a call was not made. Find it with errors.As.
type OpenError struct {
	// Circuit is the circuit that refused the call.
	Circuit string
	// State is the circuit's state as last known (OPEN, FORCED_OPEN, HALF_OPEN).
	State breakerboxv1.State
	// Reason is the service's deny reason; DENY_REASON_UNSPECIFIED for a
	// local denial without one.
	Reason breakerboxv1.DenyReason
	// RetryAfter is how long until asking again may succeed; 0 when unknown.
	RetryAfter time.Duration
	// Local is true when this process refused the call without asking the
	// service: a circuit known OPEN, a local breaker, or fail-closed.
	Local bool
	// ServiceDown is true for a fail-closed refusal while Breakerbox is
	// unreachable; such an error also matches ErrServiceUnavailable.
	ServiceDown bool
}

func (e *OpenError) Error() string {
	if e.ServiceDown {
		return fmt.Sprintf("breakerbox: circuit %s: service unreachable, call refused (fail closed)", e.Circuit)
	}
	state := strings.TrimPrefix(e.State.String(), "STATE_")
	return fmt.Sprintf("breakerbox: circuit %s is %s: call denied (retry after %s)", e.Circuit, state, e.RetryAfter)
}

// Is makes errors.Is(err, ErrOpen) true, and ErrServiceUnavailable for a fail-closed refusal.
func (e *OpenError) Is(target error) bool {
	return target == ErrOpen || (e.ServiceDown && target == ErrServiceUnavailable)
}

// RPCError is a Breakerbox RPC that failed for a reason other than
// unreachability (a bad circuit name, a missing API key): it needs fixing,
// not retrying. It unwraps to the gRPC status error.
type RPCError struct {
	// Method is the RPC, e.g. "Acquire".
	Method string
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is ErrorInfo.reason when its domain is "breakerbox.v1" (e.g.
	// "CREDENTIALS_MISSING"), else "".
	Reason string
	// RetryDelay is RetryInfo.retry_delay; 0 without RetryInfo.
	RetryDelay time.Duration
	err        error
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("breakerbox: %s: %v", e.Method, e.err)
}

func (e *RPCError) Unwrap() error { return e.err }

// errorDomain is ErrorInfo.domain of Breakerbox's own errors.
const errorDomain = "breakerbox.v1"

// rpcDetails reads what a failed RPC's status details say: the Breakerbox
// ErrorInfo reason and the RetryInfo delay. Never the message text.
func rpcDetails(st *status.Status) (reason string, retryDelay time.Duration) {
	for _, d := range st.Details() {
		switch v := d.(type) {
		case *errdetails.ErrorInfo:
			if v.GetDomain() == errorDomain {
				reason = v.GetReason()
			}
		case *errdetails.RetryInfo:
			retryDelay = v.GetRetryDelay().AsDuration()
		}
	}
	return reason, retryDelay
}

// newRPCError wraps err of method with its code and details.
func newRPCError(method string, err error) *RPCError {
	st, _ := status.FromError(err)
	reason, delay := rpcDetails(st)
	return &RPCError{Method: method, Code: st.Code(), Reason: reason, RetryDelay: delay, err: err}
}

// unreachable reports whether an RPC failed because the service could not be
// reached or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED), as
// opposed to refusing the request.
func unreachable(err error) bool {
	code := status.Code(err)
	return code == codes.Unavailable || code == codes.DeadlineExceeded
}

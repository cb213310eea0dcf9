package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Breaker guards calls to dependencies with Breakerbox. Run asks Acquire
// before each call and Reports the outcome after it. The zero values of the
// optional fields are usable; Client is required. A Breaker is safe for
// concurrent use once set up.
type Breaker struct {
	// Client is the Breakerbox API, breakerboxv1.NewCircuitServiceClient(conn).
	Client breakerboxv1.CircuitServiceClient
	// CallTimeout bounds each call of fn: its context is cancelled then and
	// the call is reported as TIMEOUT. 0 means 30 s.
	CallTimeout time.Duration
	// RPCTimeout bounds each Acquire and Report. 0 means 2 s. Keep it short:
	// an Acquire that does not answer in time is treated like an unavailable
	// Breakerbox (fail open).
	RPCTimeout time.Duration
	// IsFailure says whether an error of fn tells something about the
	// dependency. When it returns false the call is reported as IGNORED (your
	// own bad request, say an HTTP 400). nil counts every error as a failure.
	// Timeouts and cancellations are classified before it is asked.
	IsFailure func(error) bool
	// Logger receives fail-open notices and Report problems. nil means
	// slog.Default().
	Logger *slog.Logger
}

// Denied describes a denied Acquire. It is what a fallback receives, and
// the error Run returns when there is no fallback (find it with errors.As).
type Denied struct {
	// Circuit is the circuit that denied the call.
	Circuit string
	// State is the circuit's state, e.g. STATE_OPEN or STATE_FORCED_OPEN.
	State breakerboxv1.State
	// Reason says why: open, forced open, or all half-open probes out.
	Reason breakerboxv1.DenyReason
	// RetryAfter is how long until asking again may succeed; 0 when unknown
	// (FORCED_OPEN, or HALF_OPEN with every probe out).
	RetryAfter time.Duration
}

func (d *Denied) Error() string {
	return fmt.Sprintf("circuit %s is %s: call denied (retry after %s)", d.Circuit, StateName(d.State), d.RetryAfter)
}

// RetryAfterer is implemented by errors that carry the dependency's own hint
// of when to come back (HTTP 429/503 Retry-After, an LLM API's rate-limit
// reset). Run passes a positive hint with the Report: if that Report opens
// the circuit, it stays OPEN at least that long.
type RetryAfterer interface {
	RetryAfter() time.Duration
}

// Run calls fn under the circuit breaker named circuit:
//
//   - It Acquires a permit. When the circuit denies the call, fn is not
//     called: Run returns fallback(ctx, denied), or the *Denied as the error
//     when fallback is nil.
//   - When allowed, it calls fn with a context that ends after CallTimeout,
//     measures how long fn took, classifies the result with Classify and
//     Reports it with the permit (and the error's RetryAfter hint, if any).
//     The Report is sent even when ctx was cancelled, so the permit is freed.
//     Report problems are logged, never returned: fn's result and error are.
//   - When Breakerbox itself cannot be reached (UNAVAILABLE, or no answer
//     within RPCTimeout), it fails open: fn is called without a permit and
//     nothing is reported. Other Acquire errors (INVALID_ARGUMENT for a bad
//     circuit name, UNAUTHENTICATED for a missing key) are returned, since
//     they need fixing, not retrying.
//
// fn must return when its context is done, with the context's error (or one
// wrapping it) so the call is classified as a timeout or a cancellation.
func Run[T any](
	ctx context.Context,
	b *Breaker,
	circuit string,
	fn func(ctx context.Context) (T, error),
	fallback func(ctx context.Context, denied *Denied) (T, error),
) (T, error) {
	var zero T
	acquireCtx, cancel := context.WithTimeout(ctx, b.rpcTimeout())
	acquired, err := b.Client.Acquire(acquireCtx, &breakerboxv1.AcquireRequest{Circuit: circuit})
	cancel()
	if err != nil {
		if ctx.Err() == nil && unreachable(err) {
			b.logger().Warn("breakerbox unreachable: calling without a permit (fail open)", "circuit", circuit, "error", err)
			return callWithTimeout(ctx, b.callTimeout(), fn)
		}
		return zero, fmt.Errorf("breakerbox: acquire %s: %w", circuit, err)
	}
	if !acquired.GetAllowed() {
		denied := &Denied{
			Circuit:    circuit,
			State:      acquired.GetState(),
			Reason:     acquired.GetReason(),
			RetryAfter: acquired.GetRetryAfter().AsDuration(),
		}
		if fallback == nil {
			return zero, denied
		}
		return fallback(ctx, denied)
	}

	start := time.Now()
	result, callErr := callWithTimeout(ctx, b.callTimeout(), fn)
	report := &breakerboxv1.ReportRequest{
		Circuit:  circuit,
		Permit:   acquired.GetPermit(),
		Outcome:  Classify(callErr, b.IsFailure),
		Duration: durationpb.New(time.Since(start)),
	}
	if hint := RetryAfterHint(callErr); hint > 0 {
		report.RetryAfter = durationpb.New(hint)
	}
	// A cancelled caller still owes Breakerbox the outcome (IGNORED frees a
	// half-open probe slot at once instead of after permit_ttl).
	b.report(context.WithoutCancel(ctx), report)
	return result, callErr
}

// Classify maps fn's error to the outcome to Report:
//
//	nil                                         -> SUCCESS
//	context.DeadlineExceeded, gRPC DEADLINE_EXCEEDED -> TIMEOUT (a failure)
//	context.Canceled, gRPC CANCELLED            -> IGNORED (says nothing about the dependency)
//	isFailure(err) == false                     -> IGNORED
//	any other error                             -> FAILURE
//
// Wrapped errors are unwrapped (errors.Is, status.FromError).
func Classify(err error, isFailure func(error) bool) breakerboxv1.Outcome {
	switch {
	case err == nil:
		return breakerboxv1.Outcome_OUTCOME_SUCCESS
	case errors.Is(err, context.DeadlineExceeded) || grpcCode(err) == codes.DeadlineExceeded:
		return breakerboxv1.Outcome_OUTCOME_TIMEOUT
	case errors.Is(err, context.Canceled) || grpcCode(err) == codes.Canceled:
		return breakerboxv1.Outcome_OUTCOME_IGNORED
	case isFailure != nil && !isFailure(err):
		return breakerboxv1.Outcome_OUTCOME_IGNORED
	default:
		return breakerboxv1.Outcome_OUTCOME_FAILURE
	}
}

// RetryAfterHint is the dependency's retry hint carried by err (see
// RetryAfterer), or 0 when it carries none.
func RetryAfterHint(err error) time.Duration {
	var hinted RetryAfterer
	if errors.As(err, &hinted) {
		return max(hinted.RetryAfter(), 0)
	}
	return 0
}

// StateName is a state without its enum prefix: "OPEN", "HALF_OPEN".
func StateName(s breakerboxv1.State) string {
	return strings.TrimPrefix(s.String(), "STATE_")
}

// callWithTimeout calls fn with a context that ends after timeout.
func callWithTimeout[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return fn(callCtx)
}

// report sends a Report, retrying while Breakerbox is unreachable: a permit
// counts once, so a retried Report whose first answer was lost is harmless
// (it answers duplicate=true).
func (b *Breaker) report(ctx context.Context, req *breakerboxv1.ReportRequest) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		reportCtx, cancel := context.WithTimeout(ctx, b.rpcTimeout())
		_, err := b.Client.Report(reportCtx, req)
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 || !unreachable(err) {
			// FAILED_PRECONDITION: the permit expired (the call outlived
			// permit_ttl) or belongs elsewhere; retrying cannot help.
			b.logger().Warn("breakerbox: report failed", "circuit", req.GetCircuit(), "outcome", req.GetOutcome(), "attempts", attempt, "error", err)
			return
		}
		time.Sleep(backoff)
		backoff *= 2
	}
}

func (b *Breaker) callTimeout() time.Duration {
	if b.CallTimeout > 0 {
		return b.CallTimeout
	}
	return 30 * time.Second
}

func (b *Breaker) rpcTimeout() time.Duration {
	if b.RPCTimeout > 0 {
		return b.RPCTimeout
	}
	return 2 * time.Second
}

func (b *Breaker) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// unreachable reports whether a Breakerbox RPC failed because the service
// could not be reached or did not answer in time (as opposed to refusing the
// request).
func unreachable(err error) bool {
	code := grpcCode(err)
	return code == codes.Unavailable || code == codes.DeadlineExceeded
}

// grpcCode is err's gRPC status code, also when err wraps a status error;
// codes.Unknown for other errors.
func grpcCode(err error) codes.Code {
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

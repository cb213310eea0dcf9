package breakerbox

import (
	"context"
	"errors"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Run calls fn under the circuit breaker named circuit and returns fn's error.
//
//   - A circuit known OPEN, or one the service denies, returns an *OpenError
//     (errors.Is(err, ErrOpen)) without calling fn.
//   - When allowed, fn runs with ctx (bounded by WithCallTimeout); its
//     outcome is classified (Classify) and queued for a background
//     BatchReport: Run returns as soon as fn does.
//   - When the service is unreachable the policy decides (FailOpen: a local
//     breaker; FailClosed: an *OpenError matching ErrServiceUnavailable).
//     Other Acquire errors are returned as *RPCError.
//
// fn must return when its context is done, with the context's error (or one
// wrapping it) so the call is classified as a timeout or a cancellation.
func (c *Client) Run(ctx context.Context, circuit string, fn func(context.Context) error) error {
	a, err := c.admit(ctx, circuit)
	if err != nil {
		return err
	}
	callErr := c.call(ctx, fn)
	a.report(Classify(callErr, c.cfg.isFailure), RetryAfterHint(callErr))
	return callErr
}

// RunWithFallback is Run, but a denied call returns fallback(ctx, denied)
// instead of the *OpenError. Other errors are returned as Run returns them.
func (c *Client) RunWithFallback(ctx context.Context, circuit string, fn func(context.Context) error, fallback func(context.Context, *OpenError) error) error {
	err := c.Run(ctx, circuit, fn)
	var denied *OpenError
	if errors.As(err, &denied) {
		return fallback(ctx, denied)
	}
	return err
}

func (c *Client) call(ctx context.Context, fn func(context.Context) error) error {
	if c.cfg.callTimeout <= 0 {
		return fn(ctx)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.callTimeout)
	defer cancel()
	return fn(callCtx)
}

// Classify maps a guarded call's error to the outcome to report:
//
//	nil                                              -> SUCCESS
//	context.DeadlineExceeded, gRPC DEADLINE_EXCEEDED -> TIMEOUT
//	context.Canceled, gRPC CANCELLED                 -> IGNORED
//	an error carrying an HTTP status >= 400          -> by ClassifyStatus: 429, 5xx
//	  (an *HTTPError, or an SDK error such as          FAILURE; any other 4xx IGNORED
//	  openai.Error: see httpStatusOf)
//	isFailure(err) == false                          -> IGNORED
//	any other error                                  -> FAILURE
func Classify(err error, isFailure func(error) bool) breakerboxv1.Outcome {
	code, _, hasStatus := httpStatusOf(err)
	switch {
	case err == nil:
		return breakerboxv1.Outcome_OUTCOME_SUCCESS
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		return breakerboxv1.Outcome_OUTCOME_TIMEOUT
	case errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled:
		return breakerboxv1.Outcome_OUTCOME_IGNORED
	case hasStatus && code >= 400:
		return ClassifyStatus(code)
	case isFailure != nil && !isFailure(err):
		return breakerboxv1.Outcome_OUTCOME_IGNORED
	default:
		return breakerboxv1.Outcome_OUTCOME_FAILURE
	}
}

// RetryAfterer is implemented by errors that carry the dependency's own hint
// of when to come back. A positive hint goes with the Report: if that Report
// opens the circuit, it stays OPEN at least that long.
type RetryAfterer interface {
	RetryAfter() time.Duration
}

// RetryAfterHint is the hint err carries, or 0: its RetryAfterer's, else
// the rate-limit headers (RetryAfterFromHeader) of the HTTP response an SDK
// error carries (see httpStatusOf).
func RetryAfterHint(err error) time.Duration {
	var hinted RetryAfterer
	if errors.As(err, &hinted) {
		return max(hinted.RetryAfter(), 0)
	}
	if _, header, ok := httpStatusOf(err); ok && header != nil {
		return RetryAfterFromHeader(header, time.Now())
	}
	return 0
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The live behaviour (a real server opening and closing the circuit) is
// checked by test/e2e/example-go.test.ts; these tests pin Run's decisions.

func TestClassify(t *testing.T) {
	isFailure := func(err error) bool {
		var h *httpError
		return !errors.As(err, &h) || h.status >= 500 || h.status == http.StatusTooManyRequests
	}
	tests := []struct {
		name string
		err  error
		want breakerboxv1.Outcome
	}{
		{"success", nil, breakerboxv1.Outcome_OUTCOME_SUCCESS},
		{"error", errors.New("boom"), breakerboxv1.Outcome_OUTCOME_FAILURE},
		{"deadline", context.DeadlineExceeded, breakerboxv1.Outcome_OUTCOME_TIMEOUT},
		{"wrapped deadline", fmt.Errorf("calling tool: %w", context.DeadlineExceeded), breakerboxv1.Outcome_OUTCOME_TIMEOUT},
		{"gRPC deadline", status.Error(codes.DeadlineExceeded, "too slow"), breakerboxv1.Outcome_OUTCOME_TIMEOUT},
		{"cancelled", context.Canceled, breakerboxv1.Outcome_OUTCOME_IGNORED},
		{"gRPC cancelled", fmt.Errorf("search: %w", status.Error(codes.Canceled, "gone")), breakerboxv1.Outcome_OUTCOME_IGNORED},
		{"own bad request", &httpError{status: http.StatusBadRequest}, breakerboxv1.Outcome_OUTCOME_IGNORED},
		{"rate limited", &httpError{status: http.StatusTooManyRequests}, breakerboxv1.Outcome_OUTCOME_FAILURE},
		{"server error", &httpError{status: http.StatusBadGateway}, breakerboxv1.Outcome_OUTCOME_FAILURE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err, isFailure); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if got := Classify(&httpError{status: http.StatusBadRequest}, nil); got != breakerboxv1.Outcome_OUTCOME_FAILURE {
		t.Errorf("without isFailure every error is a failure; got %v", got)
	}
}

func TestRetryAfterHint(t *testing.T) {
	header := func(v string) http.Header { return http.Header{"Retry-After": []string{v}} }
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"plain error", errors.New("boom"), 0},
		{"503 with seconds", &httpError{status: 503, header: header("90")}, 90 * time.Second},
		{"wrapped 429", fmt.Errorf("llm: %w", &httpError{status: 429, header: header("2")}), 2 * time.Second},
		{"503 without header", &httpError{status: 503, header: http.Header{}}, 0},
		{"500 ignores the header", &httpError{status: 500, header: header("90")}, 0},
		{"unparsable", &httpError{status: 503, header: header("soon")}, 0},
		{"date in the past", &httpError{status: 503, header: header("Mon, 02 Jan 2006 15:04:05 GMT")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetryAfterHint(tt.err); got != tt.want {
				t.Errorf("RetryAfterHint(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// fakeAPI answers Acquire with `acquire` (or fails with acquireErr) and
// records Reports. Calling an RPC it does not define panics.
type fakeAPI struct {
	breakerboxv1.CircuitServiceClient
	acquire    *breakerboxv1.AcquireResponse
	acquireErr error
	reports    []*breakerboxv1.ReportRequest
}

func (f *fakeAPI) Acquire(_ context.Context, _ *breakerboxv1.AcquireRequest, _ ...grpc.CallOption) (*breakerboxv1.AcquireResponse, error) {
	return f.acquire, f.acquireErr
}

func (f *fakeAPI) Report(ctx context.Context, req *breakerboxv1.ReportRequest, _ ...grpc.CallOption) (*breakerboxv1.ReportResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	f.reports = append(f.reports, req)
	return &breakerboxv1.ReportResponse{State: breakerboxv1.State_STATE_CLOSED}, nil
}

var allowed = &breakerboxv1.AcquireResponse{Allowed: true, Permit: "p1", State: breakerboxv1.State_STATE_CLOSED}

func noFallback(context.Context, *Denied) (string, error) { panic("fallback called") }

func TestRunReportsEachOutcomeWithThePermit(t *testing.T) {
	tests := []struct {
		name      string
		fn        func(ctx context.Context) (string, error)
		cancel    bool // cancel the caller's context while fn runs
		want      breakerboxv1.Outcome
		wantHint  time.Duration
		wantValue string
	}{
		{name: "success", fn: func(context.Context) (string, error) { return "ok", nil }, want: breakerboxv1.Outcome_OUTCOME_SUCCESS, wantValue: "ok"},
		{name: "failure with hint", fn: func(context.Context) (string, error) {
			return "", &httpError{status: 429, header: http.Header{"Retry-After": []string{"30"}}}
		}, want: breakerboxv1.Outcome_OUTCOME_FAILURE, wantHint: 30 * time.Second},
		{name: "timeout", fn: func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}, want: breakerboxv1.Outcome_OUTCOME_TIMEOUT},
		{name: "cancelled by the caller", cancel: true, fn: func(ctx context.Context) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}, want: breakerboxv1.Outcome_OUTCOME_IGNORED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{acquire: allowed}
			b := &Breaker{Client: api, CallTimeout: 20 * time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fn := tt.fn
			if tt.cancel {
				fn = func(c context.Context) (string, error) { cancel(); return tt.fn(c) }
			}
			got, err := Run(ctx, b, "tool.x", fn, noFallback)
			if got != tt.wantValue {
				t.Errorf("value = %q, want %q", got, tt.wantValue)
			}
			if (err == nil) != (tt.want == breakerboxv1.Outcome_OUTCOME_SUCCESS) {
				t.Errorf("err = %v; fn's error must be returned as is", err)
			}
			if len(api.reports) != 1 {
				t.Fatalf("got %d reports, want 1 (a cancelled caller must still report)", len(api.reports))
			}
			r := api.reports[0]
			if r.GetCircuit() != "tool.x" || r.GetPermit() != "p1" || r.GetOutcome() != tt.want {
				t.Errorf("report = {%s %s %v}, want {tool.x p1 %v}", r.GetCircuit(), r.GetPermit(), r.GetOutcome(), tt.want)
			}
			if r.GetDuration() == nil {
				t.Error("report carries no duration")
			}
			if hint := r.GetRetryAfter().AsDuration(); hint != tt.wantHint || (tt.wantHint == 0 && r.GetRetryAfter() != nil) {
				t.Errorf("report retry_after = %v, want %v", r.GetRetryAfter(), tt.wantHint)
			}
		})
	}
}

func TestRunDenied(t *testing.T) {
	api := &fakeAPI{acquire: &breakerboxv1.AcquireResponse{
		State:      breakerboxv1.State_STATE_OPEN,
		Reason:     breakerboxv1.DenyReason_DENY_REASON_OPEN,
		RetryAfter: durationpb.New(1500 * time.Millisecond),
	}}
	b := &Breaker{Client: api}
	fn := func(context.Context) (string, error) { panic("fn called while denied") }

	got, err := Run(context.Background(), b, "tool.x", fn, func(_ context.Context, d *Denied) (string, error) {
		return fmt.Sprintf("%s %s %v", d.Circuit, StateName(d.State), d.RetryAfter), nil
	})
	if err != nil || got != "tool.x OPEN 1.5s" {
		t.Errorf("with a fallback: got (%q, %v), want (\"tool.x OPEN 1.5s\", nil)", got, err)
	}

	_, err = Run(context.Background(), b, "tool.x", fn, nil)
	var denied *Denied
	if !errors.As(err, &denied) || denied.Reason != breakerboxv1.DenyReason_DENY_REASON_OPEN || denied.RetryAfter != 1500*time.Millisecond {
		t.Errorf("without a fallback: err = %v, want a *Denied (OPEN, 1.5s)", err)
	}
	if len(api.reports) != 0 {
		t.Errorf("a denied call must not be reported; got %d reports", len(api.reports))
	}
}

func TestRunFailsOpenOnlyWhenBreakerboxIsUnreachable(t *testing.T) {
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return "ok", nil }

	for _, code := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded} {
		api := &fakeAPI{acquireErr: status.Error(code, "down")}
		got, err := Run(context.Background(), &Breaker{Client: api}, "tool.x", fn, noFallback)
		if err != nil || got != "ok" {
			t.Errorf("%v: got (%q, %v), want the dependency's answer (fail open)", code, got, err)
		}
		if len(api.reports) != 0 {
			t.Errorf("%v: a call without a permit must not be reported", code)
		}
	}
	if calls != 2 {
		t.Errorf("fn called %d times, want 2", calls)
	}

	for _, code := range []codes.Code{codes.Unauthenticated, codes.InvalidArgument} {
		api := &fakeAPI{acquireErr: status.Error(code, "fix me")}
		_, err := Run(context.Background(), &Breaker{Client: api}, "tool.x", fn, noFallback)
		if status.Code(err) != code {
			t.Errorf("%v: err = %v, want it returned (it needs fixing, not failing open)", code, err)
		}
	}
	if calls != 2 {
		t.Errorf("fn called %d times after refusals, want still 2", calls)
	}
}

package breakerbox

import (
	"context"
	"errors"
	"sync"
	"testing"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
)

var errTool = errors.New("tool failed")

func TestAllowedCallIsReportedAsSuccess(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr)
	calls := 0
	if err := c.Run(context.Background(), circuit, func(context.Context) error { calls++; return nil }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	flush(t, c)
	s := stateOf(t, addr, circuit)
	if calls != 1 || s.GetState() != breakerboxv1.State_STATE_CLOSED || countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("calls %d, state %s, counts %+v", calls, s.GetState(), countsOf(s))
	}
}

func TestFailuresTripTheCircuitAndTheDenialCarriesRetryAfter(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	clock := newFakeClock()
	c := newClient(t, addr, rpcs.option(), withClock(clock))
	for i := range serverThreshold {
		if err := c.Run(context.Background(), circuit, func(context.Context) error { return errTool }); !errors.Is(err, errTool) {
			t.Fatalf("call %d: got %v, want the tool's error", i+1, err)
		}
	}
	flush(t, c)
	s := stateOf(t, addr, circuit)
	if s.GetState() != breakerboxv1.State_STATE_OPEN || countsOf(s) != (counts{failures: serverThreshold}) {
		t.Fatalf("state %s, counts %+v; want OPEN after %d failures", s.GetState(), countsOf(s), serverThreshold)
	}

	called := false
	err := c.Run(context.Background(), circuit, func(context.Context) error { called = true; return nil })
	var denied *OpenError
	if !errors.Is(err, ErrOpen) || !errors.As(err, &denied) || called {
		t.Fatalf("got %v (fn called: %v), want ErrOpen without calling fn", err, called)
	}
	want := OpenError{Circuit: circuit, State: breakerboxv1.State_STATE_OPEN, Reason: breakerboxv1.DenyReason_DENY_REASON_OPEN, RetryAfter: serverOpenFor}
	if *denied != want {
		t.Fatalf("denial %+v, want %+v", *denied, want)
	}

	// Known OPEN now: the next calls fail fast with no RPC, until retry_after has passed.
	acquires := rpcs.count("Acquire")
	clock.Advance(serverOpenFor - 1)
	err = c.Run(context.Background(), circuit, func(context.Context) error { called = true; return nil })
	if !errors.As(err, &denied) || called || rpcs.count("Acquire") != acquires {
		t.Fatalf("got %v, fn called %v, Acquires %d -> %d; want a local denial without an RPC", err, called, acquires, rpcs.count("Acquire"))
	}
	if !denied.Local || denied.RetryAfter != 1 {
		t.Fatalf("local denial %+v, want Local with 1ns to go", *denied)
	}
	clock.Advance(1)
	_ = c.Run(context.Background(), circuit, func(context.Context) error { called = true; return nil })
	if rpcs.count("Acquire") != acquires+1 || called {
		t.Fatalf("after retry_after: Acquires %d, fn called %v; want one more Acquire (the server's clock has not moved: denied)", rpcs.count("Acquire")-acquires, called)
	}
}

func TestFallbackGetsTheDenial(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr)
	for range serverThreshold {
		_ = c.Run(context.Background(), circuit, func(context.Context) error { return errTool })
	}
	flush(t, c)
	var got *OpenError
	err := c.RunWithFallback(context.Background(), circuit, func(context.Context) error {
		t.Fatal("fn called while OPEN")
		return nil
	}, func(_ context.Context, denied *OpenError) error { got = denied; return nil })
	if err != nil || got == nil || got.RetryAfter != serverOpenFor {
		t.Fatalf("err %v, denial %+v; want the fallback's nil with retry_after %s", err, got, serverOpenFor)
	}
}

func TestRunReturnsBeforeItsReportIsSent(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	rpcs.hold = make(chan struct{})
	release := sync.OnceFunc(func() { close(rpcs.hold) })
	c := newClient(t, addr, rpcs.option())
	t.Cleanup(release) // before the client's Close, which would wait for the held Report
	// BatchReport is held: Run returning at all shows it does not wait for it.
	var err error
	hangGuard(t, "Run with its Report held", func() {
		err = c.Run(context.Background(), circuit, func(context.Context) error { return nil })
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	release()
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("counts %+v, want 1 success", countsOf(s))
	}
}

func TestCloseFlushesQueuedReports(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	rpcs.hold = make(chan struct{})
	c := newClient(t, addr, rpcs.option())
	for range 5 {
		if err := c.Run(context.Background(), circuit, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	close(rpcs.hold)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 5}) {
		t.Fatalf("counts %+v after Close, want 5 successes", countsOf(s))
	}
	if err := c.Run(context.Background(), circuit, func(context.Context) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrClosed", err)
	}
}

func TestAcquireErrorsCarryTheirReason(t *testing.T) {
	addr := serverAddress(t)
	c := newClient(t, addr)
	err := c.Run(context.Background(), "-not a circuit name", func(context.Context) error {
		t.Fatal("fn called for an invalid circuit")
		return nil
	})
	var rpcErr *RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code != codes.InvalidArgument || rpcErr.Reason != "INVALID_FIELD" {
		t.Fatalf("got %#v, want an INVALID_ARGUMENT RPCError with reason INVALID_FIELD", err)
	}
}

func TestContextCancellation(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	c := newClient(t, addr, rpcs.option())

	// Cancelled before: no RPC, fn not called.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(done, circuit, func(context.Context) error { t.Fatal("fn called"); return nil }); !errors.Is(err, context.Canceled) || rpcs.count("Acquire") != 0 {
		t.Fatalf("got %v with %d Acquires, want context.Canceled and none", err, rpcs.count("Acquire"))
	}

	// Cancelled while fn runs: fn's context ends, the call is reported IGNORED.
	ctx, cancel := context.WithCancel(context.Background())
	err := c.Run(ctx, circuit, func(ctx context.Context) error { cancel(); <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}

	// The call timeout ends fn's context: TIMEOUT.
	timed := newClient(t, addr, WithCallTimeout(1))
	err = timed.Run(context.Background(), circuit, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	flush(t, c)
	flush(t, timed)
	// The server counts a timeout in total_failures too.
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{ignored: 1, timeouts: 1, failures: 1}) {
		t.Fatalf("counts %+v, want 1 ignored and 1 timeout (also a failure)", countsOf(s))
	}
}

func TestReportsAreRetriedWhileTheServiceIsUnavailable(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	rpcs.unavailable = 2
	c := newClient(t, addr, rpcs.option())
	if err := c.Run(context.Background(), circuit, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	flush(t, c)
	if n := rpcs.count("BatchReport"); n != 3 {
		t.Fatalf("%d BatchReports, want 3 (two refused, then sent)", n)
	}
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("counts %+v, want 1 success", countsOf(s))
	}
}

func TestWithoutLocalFailFastEveryDeniedCallAsksTheService(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	c := newClient(t, addr, rpcs.option(), WithLocalFailFast(false))
	msgs := watchInto(t, c, WatchOptions{Circuits: []string{circuit}})
	awaitSnapshotComplete(msgs)
	trip(t, c, circuit)
	if e := nextEvent(t, msgs); e.GetToState() != breakerboxv1.State_STATE_OPEN {
		t.Fatalf("event %v, want to OPEN", e)
	}
	// Neither the Watch event nor the denials make the circuit known OPEN:
	// each call is the service's to deny, and it counts each rejection.
	acquires := rpcs.count("Acquire")
	for i := range 3 {
		err := c.Run(context.Background(), circuit, func(context.Context) error { t.Fatal("fn called while OPEN"); return nil })
		var denied *OpenError
		if !errors.As(err, &denied) || denied.Local || denied.RetryAfter != serverOpenFor {
			t.Fatalf("call %d: got %v, want the service's denial with retry_after %s", i+1, err, serverOpenFor)
		}
	}
	if n := rpcs.count("Acquire") - acquires; n != 3 {
		t.Fatalf("%d Acquires for 3 denied calls, want 3", n)
	}
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{failures: serverThreshold, rejections: 3}) {
		t.Fatalf("counts %+v, want %d failures and 3 rejections", countsOf(s), serverThreshold)
	}
}

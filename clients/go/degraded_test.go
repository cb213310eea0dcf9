package breakerbox

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// blackhole is an address that accepts connections and never answers: every
// RPC to it lasts until its deadline, like a Breakerbox behind a dropped route.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// resetting is an address that closes every connection at once: RPCs fail
// UNAVAILABLE without waiting, like a Breakerbox whose port is closed.
func resetting(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

const rpcTimeout = 200 * time.Millisecond

func TestFailOpenCostsOneAttemptThenUsesTheMemo(t *testing.T) {
	for name, address := range map[string]func(*testing.T) string{"blackholed": blackhole, "resetting": resetting} {
		t.Run(name, func(t *testing.T) { testFailOpenMemo(t, address(t)) })
	}
}

func testFailOpenMemo(t *testing.T, addr string) {
	rpcs := newRPCCounter()
	clock := newFakeClock()
	c := newClient(t, addr, rpcs.option(), withClock(clock), WithRPCTimeout(rpcTimeout), WithServiceRetry(5*time.Second))
	calls := 0
	for i := range 4 {
		if err := c.Run(context.Background(), "go.failopen", func(context.Context) error { calls++; return nil }); err != nil {
			t.Fatalf("call %d: %v, want fail open", i+1, err)
		}
	}
	if calls != 4 || rpcs.count("Acquire") != 1 {
		t.Fatalf("fn called %d times with %d Acquires; want 4 calls and 1 Acquire (the memo skips the rest)", calls, rpcs.count("Acquire"))
	}
	// The memo expires: the service is tried again, once.
	clock.Advance(5 * time.Second)
	_ = c.Run(context.Background(), "go.failopen", func(context.Context) error { calls++; return nil })
	_ = c.Run(context.Background(), "go.failopen", func(context.Context) error { calls++; return nil })
	if calls != 6 || rpcs.count("Acquire") != 2 {
		t.Fatalf("fn called %d times with %d Acquires; want 6 and 2", calls, rpcs.count("Acquire"))
	}
}

func TestFailOpenLocalBreakerTripsAndProbes(t *testing.T) {
	clock := newFakeClock()
	c := newClient(t, blackhole(t), withClock(clock), WithRPCTimeout(rpcTimeout), WithServiceRetry(time.Hour), WithLocalBreaker(2, 10*time.Second))
	for range 2 {
		if err := c.Run(context.Background(), "go.local", func(context.Context) error { return errTool }); !errors.Is(err, errTool) {
			t.Fatalf("got %v, want the tool's error", err)
		}
	}
	var denied *OpenError
	err := c.Run(context.Background(), "go.local", func(context.Context) error { t.Fatal("fn called while locally OPEN"); return nil })
	want := OpenError{Circuit: "go.local", State: breakerboxv1.State_STATE_OPEN, RetryAfter: 10 * time.Second, Local: true}
	if !errors.As(err, &denied) || *denied != want {
		t.Fatalf("got %v, want %+v", err, want)
	}
	// Another circuit has its own breaker.
	if err := c.Run(context.Background(), "go.other", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("other circuit: %v", err)
	}
	// After the open duration one probe goes; its success closes the breaker.
	clock.Advance(10 * time.Second)
	probes := 0
	if err := c.Run(context.Background(), "go.local", func(context.Context) error { probes++; return nil }); err != nil || probes != 1 {
		t.Fatalf("probe: %v (%d calls)", err, probes)
	}
	if err := c.Run(context.Background(), "go.local", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after the probe: %v, want CLOSED", err)
	}
}

func TestFailClosedRefusesWithoutCallingAndUsesTheMemo(t *testing.T) {
	rpcs := newRPCCounter()
	c := newClient(t, blackhole(t), rpcs.option(), withClock(newFakeClock()), WithRPCTimeout(rpcTimeout), WithPolicy(FailClosed))
	for i := range 3 {
		err := c.Run(context.Background(), "go.failclosed", func(context.Context) error { t.Fatal("fn called while failing closed"); return nil })
		var denied *OpenError
		if !errors.Is(err, ErrServiceUnavailable) || !errors.Is(err, ErrOpen) || !errors.As(err, &denied) || !denied.ServiceDown {
			t.Fatalf("call %d: got %v, want ErrServiceUnavailable", i+1, err)
		}
	}
	if rpcs.count("Acquire") != 1 {
		t.Fatalf("%d Acquires, want 1", rpcs.count("Acquire"))
	}
}

func TestCallerContextEndingDuringAcquireIsNotFailOpen(t *testing.T) {
	// The service never answers and the RPC timeout is an hour: only the
	// caller's context can end the Acquire.
	rpcs := newRPCCounter()
	c := newClient(t, blackhole(t), rpcs.option(), WithRPCTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Cancel once the Acquire is under way.
		for rpcs.count("Acquire") == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	var err error
	hangGuard(t, "Run cancelled during Acquire", func() {
		err = c.Run(ctx, "go.cancelled", func(context.Context) error { t.Error("fn called after cancellation"); return nil })
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "acquire go.cancelled") {
		t.Fatalf("got %v, want context.Canceled wrapped with the circuit", err)
	}
	if c.local.serviceDown() {
		t.Fatal("a cancelled Acquire marked the service down")
	}

	// The caller's deadline ending first is the caller's too: returned, not fail open.
	deadline, stop := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stop()
	hangGuard(t, "Run whose deadline ends during Acquire", func() {
		err = c.Run(deadline, "go.deadline", func(context.Context) error { t.Error("fn called after the deadline"); return nil })
	})
	if !errors.Is(err, context.DeadlineExceeded) || c.local.serviceDown() {
		t.Fatalf("got %v (service down: %v), want context.DeadlineExceeded and no memo", err, c.local.serviceDown())
	}
}

func TestReportsToAnUnreachableServiceAreDroppedAtCloseWithinTheFlushTimeout(t *testing.T) {
	// Admitted by a fake service permit (the service was reachable at Acquire), then the service is gone.
	c := newClient(t, blackhole(t), WithRPCTimeout(rpcTimeout), WithFlushTimeout(50*time.Millisecond))
	a := &admission{c: c, circuit: "go.gone", permit: "p", start: time.Now()}
	a.report(breakerboxv1.Outcome_OUTCOME_SUCCESS, 0)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after Close: %v", err)
	}
}

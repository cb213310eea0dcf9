package breakerbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The tests run against a live server that test/e2e/client-go.test.ts starts
// with these settings: failure threshold 3, open duration 30 s, max open
// duration 600 s, on a manual clock that never moves (so every retry_after
// is exact).
const (
	serverThreshold = 3
	serverOpenFor   = 30 * time.Second
)

// serverAddress is the live server's gRPC address; tests that need it skip without it.
func serverAddress(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("BREAKERBOX_TEST_ADDRESS")
	if addr == "" {
		t.Skip("BREAKERBOX_TEST_ADDRESS is not set: run through test/e2e/client-go.test.ts")
	}
	return addr
}

// circuitRuns numbers the circuits made, so -count=N and reruns against one server do not mix.
var circuitRuns atomic.Int64

// circuitFor is a circuit name of this test run only.
func circuitFor(t *testing.T, suffix string) string {
	return fmt.Sprintf("go.%s.%d.%d.%s", strings.ReplaceAll(t.Name(), "_", "-"), os.Getpid(), circuitRuns.Add(1), suffix)
}

// fakeClock is the client's clock in tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func withClock(f *fakeClock) Option { return func(c *config) { c.now = f.Now } }

// quiet drops the client's log lines (fail-open notices are expected here).
func quiet() Option { return WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))) }

// rpcCounter counts the unary RPCs a client starts, by method name ("Acquire"),
// and can hold BatchReport until released.
type rpcCounter struct {
	mu     sync.Mutex
	counts map[string]int
	hold   chan struct{} // when set, BatchReport waits for it to close
	// unavailable is how many BatchReports to fail with UNAVAILABLE before
	// sending one (the service's answer to a Report it never got).
	unavailable int
}

func newRPCCounter() *rpcCounter { return &rpcCounter{counts: map[string]int{}} }

func (r *rpcCounter) option() Option {
	return WithDialOptions(grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		name := method[strings.LastIndex(method, "/")+1:]
		r.mu.Lock()
		r.counts[name]++
		hold := r.hold
		fail := name == "BatchReport" && r.unavailable > 0
		if fail {
			r.unavailable--
		}
		r.mu.Unlock()
		if hold != nil && name == "BatchReport" {
			<-hold
		}
		if fail {
			return status.Error(codes.Unavailable, "connection refused (injected)")
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}))
}

func (r *rpcCounter) count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[method]
}

// newClient is a client of addr closed at the end of the test.
func newClient(t *testing.T, addr string, opts ...Option) *Client {
	t.Helper()
	c, err := New(addr, append([]Option{quiet()}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// stateOf reads a circuit's status from the server with its own client.
func stateOf(t *testing.T, addr, circuit string) *breakerboxv1.CircuitStatus {
	t.Helper()
	c := newClient(t, addr)
	resp, err := c.API().GetState(context.Background(), &breakerboxv1.GetStateRequest{Circuit: circuit})
	if err != nil {
		t.Fatalf("GetState %s: %v", circuit, err)
	}
	return resp.GetStatus()
}

// flush waits for c's queued Reports.
func flush(t *testing.T, c *Client) {
	t.Helper()
	if err := c.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// counts are a circuit's totals as one comparable value.
type counts struct{ successes, failures, ignored, timeouts, rejections uint64 }

func countsOf(s *breakerboxv1.CircuitStatus) counts {
	st := s.GetStats()
	return counts{st.GetTotalSuccesses(), st.GetTotalFailures(), st.GetTotalIgnored(), st.GetTotalTimeouts(), st.GetTotalRejections()}
}

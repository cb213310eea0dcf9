// Command go-agent is a small agent that calls a flaky dependency through
// Breakerbox with the Go client package (clients/go).
//
//	go run . [-address localhost:50051] [-circuit example.flaky-tool] [-calls 40] [-interval 50ms] [-fail 5-7]
//
// It makes -calls calls with the client's RunWithFallback: Acquire, call,
// classify, Report. The dependency fails on the calls numbered by -fail, then
// heals. Denied calls get a fallback at once instead of waiting on a dead
// dependency. The client's Watch (watch.go) prints every state change the
// service announces. Start the server with short durations to see the
// circuit open and close again within the run (see README.md beside this file).
//
// Environment: BREAKERBOX_ADDRESS is the default of -address;
// BREAKERBOX_API_KEY, when set, is sent as "authorization: Bearer <key>" on
// every call, Watch included. Output: one line per call and per transition on
// stdout; warnings (fail open) on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	breakerbox "github.com/breakerbox/breakerbox/clients/go"
	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "go-agent:", err)
		os.Exit(1)
	}
}

func run() error {
	address := flag.String("address", envOr("BREAKERBOX_ADDRESS", "localhost:50051"), "Breakerbox gRPC address, host:port (default from $BREAKERBOX_ADDRESS)")
	circuit := flag.String("circuit", "example.flaky-tool", "circuit that guards the dependency")
	calls := flag.Int("calls", 40, "calls to make")
	interval := flag.Duration("interval", 50*time.Millisecond, "pause between calls")
	fail := flag.String("fail", "5-7", "which of the dependency's calls fail, FROM-TO (counting only calls that reach it)")
	useTLS := flag.Bool("tls", false, "connect with TLS, verified against the system's roots (for a Breakerbox behind a TLS proxy)")
	flag.Parse()
	failFrom, failTo, err := parseRange(*fail)
	if err != nil {
		return fmt.Errorf("-fail %q: %w", *fail, err)
	}

	// Ctrl-C or SIGTERM cancels the call in progress (reported IGNORED) and
	// ends the run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	options := []breakerbox.Option{
		breakerbox.WithLogger(log),
		breakerbox.WithCallTimeout(time.Second),
		// Every call asks Breakerbox, even while the circuit is known OPEN:
		// each fallback below shows the service's own retry_after, and the
		// service counts every denied call.
		breakerbox.WithLocalFailFast(false),
	}
	if key := os.Getenv("BREAKERBOX_API_KEY"); key != "" {
		options = append(options, breakerbox.WithAPIKey(key))
	}
	if *useTLS {
		options = append(options, breakerbox.WithTLS(nil))
	}
	bb, err := breakerbox.New(*address, options...)
	if err != nil {
		return err
	}
	defer bb.Close() // sends the Reports still queued

	// Print every transition of our circuit as the service streams it.
	watcher := newWatcher(func(ev *breakerboxv1.CircuitEvent) {
		fmt.Printf("watch: %s -> %s (%s)\n", stateName(ev.GetFromState()), stateName(ev.GetToState()), ev.GetReason())
	})
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	var watchErr error // set before watchDone closes
	go func() {
		defer close(watchDone)
		watchErr = bb.Watch(watchCtx, breakerbox.WatchOptions{Circuits: []string{*circuit}}, watcher.handle)
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	// Start calling once the watch is in place, so no transition is missed.
	select {
	case <-watcher.ready:
	case <-watchDone:
		return fmt.Errorf("watch %s at %s: %w", *circuit, *address, grpcError(watchErr))
	case <-time.After(5 * time.Second):
		log.Warn("watch: no snapshot within 5s; calling anyway", "address", *address)
	case <-ctx.Done():
		return nil
	}

	tool := &flakyTool{failFrom: failFrom, failTo: failTo}
	fallbacks, made := 0, 0
	for i := 1; i <= *calls && ctx.Err() == nil; i++ {
		var out string
		err := bb.RunWithFallback(ctx, *circuit, func(ctx context.Context) (err error) {
			out, err = tool.Call(ctx)
			return err
		}, func(ctx context.Context, denied *breakerbox.OpenError) error {
			// Here a real agent would use a cached answer, another model or
			// another agent.
			fallbacks++
			out = fmt.Sprintf("fallback (circuit %s, retry in %d ms)", stateName(denied.State), denied.RetryAfter.Milliseconds())
			return nil
		})
		made = i
		if err != nil {
			fmt.Printf("call %d: error: %v\n", i, err)
		} else {
			fmt.Printf("call %d: %s\n", i, out)
		}
		// Only so this story is exact: the next call's Acquire sees this
		// call's outcome. Run never waits for its Report; an agent need not either.
		_ = bb.Flush(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
	}
	waitForWatch(watcher, bb.API(), *circuit, log)
	fmt.Printf("done: %d calls, %d fallbacks\n", made, fallbacks)
	return nil
}

// waitForWatch gives the Watch stream a moment to deliver the transitions
// our last calls caused (events travel apart from the calls' answers), so
// the output ends with them.
func waitForWatch(watcher *watcher, api breakerboxv1.CircuitServiceClient, circuit string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	state, err := api.GetState(ctx, &breakerboxv1.GetStateRequest{Circuit: circuit})
	if err != nil {
		if status.Code(err) != codes.NotFound { // NOT_FOUND: no call reached Breakerbox
			log.Warn("get state failed; the last transitions may not be printed", "circuit", circuit, "error", err)
		}
		return
	}
	if err := watcher.waitForGeneration(ctx, circuit, state.GetStatus().GetGeneration()); err != nil {
		log.Warn("watch did not deliver the last transitions in time", "circuit", circuit, "error", err)
	}
}

// grpcError is the gRPC status error inside a *breakerbox.RPCError, so the
// message is the service's own.
func grpcError(err error) error {
	var rpcErr *breakerbox.RPCError
	if errors.As(err, &rpcErr) {
		return rpcErr.Unwrap()
	}
	return err
}

// flakyTool stands in for a dependency with an outage: its calls numbered
// failFrom to failTo (counting only the calls that reach it) fail with an
// HTTP 503, the others succeed after a few milliseconds.
type flakyTool struct {
	mu               sync.Mutex
	n                int
	failFrom, failTo int
}

func (t *flakyTool) Call(ctx context.Context) (string, error) {
	t.mu.Lock()
	t.n++
	n := t.n
	t.mu.Unlock()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(5 * time.Millisecond): // the work
	}
	if n >= t.failFrom && n <= t.failTo {
		return "", &httpError{status: http.StatusServiceUnavailable, header: http.Header{}, call: n}
	}
	return fmt.Sprintf("result %d", n), nil
}

// httpError is what an HTTP dependency's client might return. The client
// classifies it by its StatusCode (429 and 5xx are failures, other 4xx the
// caller's own), and passes its RetryAfter with the Report.
type httpError struct {
	status int
	header http.Header
	call   int
}

func (e *httpError) Error() string {
	return fmt.Sprintf("tool failed on call %d (%d %s)", e.call, e.status, http.StatusText(e.status))
}

// StatusCode is the response's status.
func (e *httpError) StatusCode() int { return e.status }

// RetryAfter is the response's Retry-After (seconds or an HTTP date); 0 when absent.
func (e *httpError) RetryAfter() time.Duration {
	return breakerbox.RetryAfterFromHeader(e.header, time.Now())
}

func parseRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, errors.New("want FROM-TO, e.g. 5-7")
	}
	if from, err = strconv.Atoi(a); err == nil {
		to, err = strconv.Atoi(b)
	}
	if err != nil || from < 1 || to < from {
		return 0, 0, errors.New("want FROM-TO with 1 <= FROM <= TO, e.g. 5-7")
	}
	return from, to, nil
}

// stateName is a state without its enum prefix: "OPEN", "HALF_OPEN".
func stateName(s breakerboxv1.State) string {
	return strings.TrimPrefix(s.String(), "STATE_")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

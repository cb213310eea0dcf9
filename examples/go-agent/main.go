// Command go-agent is a small agent that calls a flaky dependency through
// Breakerbox.
//
//	go run . [-address localhost:50051] [-circuit example.flaky-tool] [-calls 40] [-interval 50ms] [-fail 5-7]
//
// It makes -calls calls with Run (breaker.go): Acquire, call, classify,
// Report. The dependency fails on the calls numbered by -fail, then heals.
// Denied calls get a fallback at once instead of waiting on a dead
// dependency. A Watch (watch.go) prints every state change the service
// announces. Start the server with short durations to see the circuit open
// and close again within the run (see README.md beside this file).
//
// Environment: BREAKERBOX_ADDRESS is the default of -address;
// BREAKERBOX_API_KEY, when set, is sent as "authorization: Bearer <key>" on
// every call, Watch included. Output: one line per call and per transition on
// stdout; warnings (fail open, reconnects) on stderr.
package main

import (
	"context"
	"crypto/tls"
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

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
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

	conn, err := dial(*address, os.Getenv("BREAKERBOX_API_KEY"), *useTLS)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := breakerboxv1.NewCircuitServiceClient(conn)

	// Print every transition of our circuit as the service streams it.
	watcher := NewWatcher(client, &breakerboxv1.WatchRequest{Circuits: []string{*circuit}}, func(ev *breakerboxv1.CircuitEvent) {
		fmt.Printf("watch: %s -> %s (%s)\n", StateName(ev.GetFromState()), StateName(ev.GetToState()), ev.GetReason())
	}, log)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	var watchErr error // set before watchDone closes
	go func() {
		defer close(watchDone)
		watchErr = watcher.Run(watchCtx)
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	// Start calling once the watch is in place, so no transition is missed.
	select {
	case <-watcher.Ready():
	case <-watchDone:
		return fmt.Errorf("watch %s at %s: %w", *circuit, *address, watchErr)
	case <-time.After(5 * time.Second):
		log.Warn("watch: no snapshot within 5s; calling anyway", "address", *address)
	case <-ctx.Done():
		return nil
	}

	tool := &flakyTool{failFrom: failFrom, failTo: failTo}
	breaker := &Breaker{Client: client, CallTimeout: time.Second, Logger: log}
	fallbacks, made := 0, 0
	for i := 1; i <= *calls && ctx.Err() == nil; i++ {
		out, err := Run(ctx, breaker, *circuit, tool.Call, func(ctx context.Context, denied *Denied) (string, error) {
			// Here a real agent would use a cached answer, another model or
			// another agent.
			fallbacks++
			return fmt.Sprintf("fallback (circuit %s, retry in %d ms)", StateName(denied.State), denied.RetryAfter.Milliseconds()), nil
		})
		made = i
		if err != nil {
			fmt.Printf("call %d: error: %v\n", i, err)
		} else {
			fmt.Printf("call %d: %s\n", i, out)
		}
		select {
		case <-ctx.Done():
		case <-time.After(*interval):
		}
	}
	waitForWatch(watcher, client, *circuit, log)
	fmt.Printf("done: %d calls, %d fallbacks\n", made, fallbacks)
	return nil
}

// waitForWatch gives the Watch stream a moment to deliver the transitions
// our last calls caused (events travel apart from the calls' answers), so
// the output ends with them.
func waitForWatch(watcher *Watcher, client breakerboxv1.CircuitServiceClient, circuit string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	state, err := client.GetState(ctx, &breakerboxv1.GetStateRequest{Circuit: circuit})
	if err != nil {
		if grpcCode(err) != codes.NotFound { // NOT_FOUND: no call reached Breakerbox
			log.Warn("get state failed; the last transitions may not be printed", "circuit", circuit, "error", err)
		}
		return
	}
	if err := watcher.WaitForGeneration(ctx, circuit, state.GetStatus().GetGeneration()); err != nil {
		log.Warn("watch did not deliver the last transitions in time", "circuit", circuit, "error", err)
	}
}

// dial connects to Breakerbox. grpc.NewClient connects lazily, on the first
// call, and reconnects by itself after the server restarts.
func dial(address, apiKey string, useTLS bool) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if apiKey != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerKey{key: apiKey, requireTLS: useTLS}))
	}
	conn, err := grpc.NewClient(address, opts...)
	if err != nil {
		return nil, fmt.Errorf("breakerbox address %q: %w", address, err)
	}
	return conn, nil
}

// bearerKey sends the API key as "authorization: Bearer <key>" metadata on
// every call, unary and streaming alike.
type bearerKey struct {
	key        string
	requireTLS bool
}

func (b bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.key}, nil
}

// RequireTransportSecurity is false without -tls so the example runs against
// a local plaintext server; over a network, use TLS so the key stays secret.
func (b bearerKey) RequireTransportSecurity() bool { return b.requireTLS }

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

// httpError is what an HTTP dependency's client might return. Its
// RetryAfter makes Run pass the server's Retry-After header, when there is
// one, with the Report.
type httpError struct {
	status int
	header http.Header
	call   int
}

func (e *httpError) Error() string {
	return fmt.Sprintf("tool failed on call %d (%d %s)", e.call, e.status, http.StatusText(e.status))
}

// RetryAfter reads Retry-After as seconds or an HTTP date; 0 when absent,
// unparsable, or not a 429/503.
func (e *httpError) RetryAfter() time.Duration {
	value := e.header.Get("Retry-After")
	if value == "" || (e.status != http.StatusTooManyRequests && e.status != http.StatusServiceUnavailable) {
		return 0
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil {
		return max(time.Until(at), 0)
	}
	return 0
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

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// Command client-overhead measures what the Go client (clients/go) costs a
// caller, against a running Breakerbox (loopback, memory store):
//
//	go run . [-calls 5000] localhost:50051
//
// It prints one JSON line, every figure in microseconds (p50 and p99 over
// -calls calls). Every path is warmed up first (-warmup calls each), then the
// direct call, the guarded call and the raw Acquire are timed in alternating
// blocks (-blocks of them, each path's samples pooled), so guarded and
// Acquire see the same background noise and the same warm state instead of
// one running after the other:
//
//   - direct_us: calling the guarded function (a no-op) directly;
//   - guarded_us: the same call through Run (Acquire, the call, the Report
//     queued for the background sender), so guarded minus direct is what
//     guarding adds;
//   - acquire_rtt_us: the raw Acquire RPC on the client's connection, the
//     bulk of that;
//   - open_guarded_us: Run on a circuit known OPEN after a denial, which the
//     client refuses locally, without an RPC.
//
// Its own module (with replace lines to clients/go and gen/go) rather than a
// package of the client's: the client's `go vet ./...` and `go test ./...`
// stay about the client, and the bench builds as a user's program would.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"time"

	breakerbox "github.com/breakerbox/breakerbox/clients/go"
	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

type percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

type result struct {
	Client        string      `json:"client"`
	Runtime       string      `json:"runtime"`
	Calls         int         `json:"calls"`
	DirectUs      percentiles `json:"direct_us"`
	GuardedUs     percentiles `json:"guarded_us"`
	AcquireRTTUs  percentiles `json:"acquire_rtt_us"`
	OpenGuardedUs percentiles `json:"open_guarded_us"`
}

func main() {
	calls := flag.Int("calls", 5000, "measured calls per figure")
	warmup := flag.Int("warmup", 1000, "unmeasured calls of each path before any is timed")
	blocks := flag.Int("blocks", 10, "alternating blocks the direct, guarded and Acquire calls are timed in")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: client-overhead [-calls N] [-warmup N] [-blocks N] <breakerbox gRPC address>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *calls < 1 || *blocks < 1 || *blocks > *calls {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *calls, *warmup, *blocks); err != nil {
		fmt.Fprintln(os.Stderr, "client-overhead:", err)
		os.Exit(1)
	}
}

func run(address string, calls, warmup, blocks int) error {
	bb, err := breakerbox.New(address,
		breakerbox.WithReportQueueSize(4*(calls+warmup)), // no Report dropped while Run outpaces the sender
		breakerbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		return err
	}
	defer bb.Close()
	ctx := context.Background()
	prefix := fmt.Sprintf("bench.client-overhead.go.%d", time.Now().UnixNano())
	noop := func(context.Context) error { return nil }

	// Fail on the first error rather than measure fail-open.
	guardedCircuit := prefix + ".guarded"
	if err := bb.Run(ctx, guardedCircuit, noop); err != nil {
		return fmt.Errorf("first Run: %w", err)
	}

	out := result{Client: "go", Runtime: runtime.Version(), Calls: calls}
	acquireCircuit := prefix + ".acquire"
	direct := func() error { return noop(ctx) }
	guarded := func() error { return bb.Run(ctx, guardedCircuit, noop) }
	acquire := func() error {
		resp, err := bb.API().Acquire(ctx, &breakerboxv1.AcquireRequest{Circuit: acquireCircuit})
		if err == nil && !resp.GetAllowed() {
			err = fmt.Errorf("acquire denied: %v", resp.GetReason())
		}
		return err
	}
	for _, p := range []struct {
		name string
		f    func() error
	}{{"direct", direct}, {"guarded Run", guarded}, {"Acquire", acquire}} {
		if err := repeat(warmup, p.f); err != nil {
			return fmt.Errorf("warming up %s: %w", p.name, err)
		}
	}
	if err := bb.Flush(ctx); err != nil {
		return err
	}
	var directT, guardedT, acquireT []time.Duration
	for b := range blocks {
		n := calls/blocks + btoi(b < calls%blocks)
		if directT, err = timeCalls(directT, n, direct); err != nil {
			return err
		}
		if guardedT, err = timeCalls(guardedT, n, guarded); err != nil {
			return fmt.Errorf("guarded Run: %w", err)
		}
		// Untimed: the Acquire block starts without the guarded block's Reports still queued.
		if err := bb.Flush(ctx); err != nil {
			return err
		}
		if acquireT, err = timeCalls(acquireT, n, acquire); err != nil {
			return fmt.Errorf("Acquire: %w", err)
		}
	}
	out.DirectUs, out.GuardedUs, out.AcquireRTTUs = summarize(directT), summarize(guardedT), summarize(acquireT)
	openCircuit := prefix + ".open"
	if err := tripUntilDenied(ctx, bb, openCircuit); err != nil {
		return err
	}
	openRun := func() error {
		if err := bb.Run(ctx, openCircuit, noop); !errors.Is(err, breakerbox.ErrOpen) {
			return fmt.Errorf("Run on the open circuit: %v, want ErrOpen", err)
		}
		return nil
	}
	if err := repeat(warmup, openRun); err != nil {
		return err
	}
	openT, err := timeCalls(nil, calls, openRun)
	if err != nil {
		return err
	}
	out.OpenGuardedUs = summarize(openT)
	return json.NewEncoder(os.Stdout).Encode(out)
}

// tripUntilDenied fails calls on circuit until the service denies one: the
// client then knows it OPEN for the denial's retry_after.
func tripUntilDenied(ctx context.Context, bb *breakerbox.Client, circuit string) error {
	failure := errors.New("bench: failing on purpose")
	for range 1000 {
		err := bb.Run(ctx, circuit, func(context.Context) error { return failure })
		var denied *breakerbox.OpenError
		if errors.As(err, &denied) {
			if denied.RetryAfter <= 0 {
				return fmt.Errorf("denied without a retry_after (%v): the client cannot know it OPEN", err)
			}
			return nil
		}
		if !errors.Is(err, failure) {
			return fmt.Errorf("tripping %s: %w", circuit, err)
		}
		if err := bb.Flush(ctx); err != nil { // the next Acquire sees this failure
			return err
		}
	}
	return fmt.Errorf("%s did not open after 1000 failures", circuit)
}

// repeat calls f n times, untimed; an error of f ends it.
func repeat(n int, f func() error) error {
	for range n {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// timeCalls appends the durations of n calls of f to times; an error of f
// ends it, since a figure of failing calls would measure something else.
func timeCalls(times []time.Duration, n int, f func() error) ([]time.Duration, error) {
	for range n {
		start := time.Now()
		err := f()
		times = append(times, time.Since(start))
		if err != nil {
			return times, err
		}
	}
	return times, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// summarize gives the p50 and p99 (nearest rank) of times.
func summarize(times []time.Duration) percentiles {
	slices.Sort(times)
	at := func(q float64) float64 {
		i := max(int(math.Ceil(q*float64(len(times))))-1, 0)
		return float64(times[i].Nanoseconds()) / 1000 // µs, to the nanosecond
	}
	return percentiles{P50: at(0.50), P99: at(0.99)}
}

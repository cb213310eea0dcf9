// Command client-overhead measures what the Go client (clients/go) costs a
// caller, against a running Breakerbox (loopback, memory store):
//
//	go run . [-calls 5000] localhost:50051
//
// It prints one JSON line, every figure in microseconds (p50 and p99 over
// -calls calls, after a warm-up):
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
	warmup := flag.Int("warmup", 500, "unmeasured calls before each figure")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: client-overhead [-calls N] [-warmup N] <breakerbox gRPC address>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *calls < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *calls, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "client-overhead:", err)
		os.Exit(1)
	}
}

func run(address string, calls, warmup int) error {
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
	if out.DirectUs, err = measure(calls, warmup, func() error { return noop(ctx) }); err != nil {
		return err
	}
	if out.GuardedUs, err = measure(calls, warmup, func() error { return bb.Run(ctx, guardedCircuit, noop) }); err != nil {
		return fmt.Errorf("guarded Run: %w", err)
	}
	if err := bb.Flush(ctx); err != nil {
		return err
	}
	acquireCircuit := prefix + ".acquire"
	out.AcquireRTTUs, err = measure(calls, warmup, func() error {
		resp, err := bb.API().Acquire(ctx, &breakerboxv1.AcquireRequest{Circuit: acquireCircuit})
		if err == nil && !resp.GetAllowed() {
			err = fmt.Errorf("acquire denied: %v", resp.GetReason())
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("Acquire: %w", err)
	}
	openCircuit := prefix + ".open"
	if err := tripUntilDenied(ctx, bb, openCircuit); err != nil {
		return err
	}
	out.OpenGuardedUs, err = measure(calls, warmup, func() error {
		if err := bb.Run(ctx, openCircuit, noop); !errors.Is(err, breakerbox.ErrOpen) {
			return fmt.Errorf("Run on the open circuit: %v, want ErrOpen", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
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

// measure times calls of f (after warmup unmeasured ones) and gives their
// p50 and p99; an error of f ends it, since a figure of failing calls would
// measure something else.
func measure(calls, warmup int, f func() error) (percentiles, error) {
	for range warmup {
		if err := f(); err != nil {
			return percentiles{}, err
		}
	}
	times := make([]time.Duration, calls)
	for i := range times {
		start := time.Now()
		err := f()
		times[i] = time.Since(start)
		if err != nil {
			return percentiles{}, err
		}
	}
	slices.Sort(times)
	at := func(q float64) float64 {
		i := max(int(math.Ceil(q*float64(len(times))))-1, 0)
		return float64(times[i].Nanoseconds()) / 1000 // µs, to the nanosecond
	}
	return percentiles{P50: at(0.50), P99: at(0.99)}, nil
}

package breakerbox

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// cuttable forwards TCP connections to target until cut() resets the open
// ones (the listener stays, so the client reconnects through it).
type cuttable struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func forwarder(t *testing.T, target string) *cuttable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &cuttable{addr: ln.Addr().String()}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); f.cut() })
	return f
}

func (f *cuttable) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
}

// watchInto runs c.Watch in the background, sending every message to the returned channel.
func watchInto(t *testing.T, c *Client, opts WatchOptions) <-chan *breakerboxv1.WatchResponse {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *breakerboxv1.WatchResponse, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.Watch(ctx, opts, func(m *breakerboxv1.WatchResponse) error { out <- m; return nil })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch ended with %v, want context.Canceled", err)
		}
	})
	return out
}

// nextEvent skips to the next transition, failing on a snapshot (a resumed watch sends none).
func nextEvent(t *testing.T, msgs <-chan *breakerboxv1.WatchResponse) *breakerboxv1.CircuitEvent {
	t.Helper()
	for m := range msgs {
		if m.GetSnapshot() != nil || m.GetSnapshotComplete() != nil {
			t.Fatalf("unexpected snapshot message: %v", m)
		}
		if e := m.GetEvent(); e != nil {
			return e
		}
	}
	return nil
}

// awaitSnapshotComplete skips the snapshot.
func awaitSnapshotComplete(msgs <-chan *breakerboxv1.WatchResponse) {
	for m := range msgs {
		if m.GetSnapshotComplete() != nil {
			return
		}
	}
}

func trip(t *testing.T, c *Client, circuit string) {
	t.Helper()
	for range serverThreshold {
		_ = c.Run(context.Background(), circuit, func(context.Context) error { return errTool })
	}
	flush(t, c)
}

func TestWatchFeedsLocalFailFast(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	clock := newFakeClock()
	c := newClient(t, addr, rpcs.option(), withClock(clock))
	msgs := watchInto(t, c, WatchOptions{Circuits: []string{circuit}})
	awaitSnapshotComplete(msgs)
	trip(t, c, circuit)
	e := nextEvent(t, msgs)
	if e.GetCircuit() != circuit || e.GetToState() != breakerboxv1.State_STATE_OPEN {
		t.Fatalf("event %v, want %s to OPEN", e, circuit)
	}
	// The event was handled before it was passed on: the circuit is known OPEN for its 30 s.
	acquires := rpcs.count("Acquire")
	err := c.Run(context.Background(), circuit, func(context.Context) error { t.Fatal("fn called"); return nil })
	var denied *OpenError
	if !errors.As(err, &denied) || !denied.Local || denied.RetryAfter != serverOpenFor || rpcs.count("Acquire") != acquires {
		t.Fatalf("got %v with %d more Acquires, want a local denial for %s and no RPC", err, rpcs.count("Acquire")-acquires, serverOpenFor)
	}
}

func TestWatchResumesAfterADisconnectWithoutMissingAnything(t *testing.T) {
	addr := serverAddress(t)
	first, second := circuitFor(t, "first"), circuitFor(t, "second")
	fwd := forwarder(t, addr)
	watcher := newClient(t, fwd.addr, WithRPCTimeout(time.Minute))
	msgs := watchInto(t, watcher, WatchOptions{Circuits: []string{first, second}, MaxBackoff: 200 * time.Millisecond})
	awaitSnapshotComplete(msgs)
	reporter := newClient(t, addr)
	trip(t, reporter, first)
	if e := nextEvent(t, msgs); e.GetCircuit() != first {
		t.Fatalf("event %v, want %s", e, first)
	}
	// The connection drops; meanwhile the second circuit opens. The resumed
	// watch delivers that transition, and no snapshot.
	fwd.cut()
	trip(t, reporter, second)
	if e := nextEvent(t, msgs); e.GetCircuit() != second || e.GetToState() != breakerboxv1.State_STATE_OPEN {
		t.Fatalf("event %v, want %s to OPEN", e, second)
	}
}

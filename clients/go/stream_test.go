package breakerbox

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// chunks is a stream of its chunks, one per Read, ending with end (io.EOF or an error).
type chunks struct {
	parts  []string
	end    error
	closed bool
}

func (c *chunks) Read(b []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, c.end
	}
	n := copy(b, c.parts[0])
	c.parts = c.parts[1:]
	return n, nil
}

func (c *chunks) Close() error { c.closed = true; return nil }

// hangGuard fails the test when f does not return within a minute: what it
// guards must not wait for anything, so only a hang could take that long.
func hangGuard(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not return", what)
	}
}

func TestRunStreamReportsWhenTheStreamEnds(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr)
	body, err := c.RunStream(context.Background(), circuit, func(context.Context) (io.ReadCloser, error) {
		return &chunks{parts: []string{"one ", "two"}, end: io.EOF}, nil
	})
	if err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{}) {
		t.Fatalf("counts %+v with the stream open, want nothing reported yet", countsOf(s))
	}
	data, err := io.ReadAll(body)
	if err != nil || string(data) != "one two" {
		t.Fatalf("read %q, %v", data, err)
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("counts %+v at EOF, want 1 success", countsOf(s))
	}
	_ = body.Close() // reported already: Close does not count it again
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("counts %+v after Close, want still 1 success", countsOf(s))
	}
}

func TestRunStreamThatBreaksMidwayIsAFailureAndReturnsItsError(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr)
	for i := range serverThreshold {
		stream := &chunks{parts: []string{"one "}, end: errTool}
		body, err := c.RunStream(context.Background(), circuit, func(context.Context) (io.ReadCloser, error) { return stream, nil })
		if err != nil {
			t.Fatalf("RunStream %d: %v", i+1, err)
		}
		if data, err := io.ReadAll(body); err != errTool || string(data) != "one " {
			t.Fatalf("read %q, %v; want the first chunk, then the stream's own error", data, err)
		}
		_ = body.Close()
		if !stream.closed {
			t.Fatal("Close did not reach the stream")
		}
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{failures: serverThreshold}) || s.GetState().String() != "STATE_OPEN" {
		t.Fatalf("state %s, counts %+v; want OPEN after %d failures", s.GetState(), countsOf(s), serverThreshold)
	}
	// Denied: open is not called.
	_, err := c.RunStream(context.Background(), circuit, func(context.Context) (io.ReadCloser, error) {
		t.Fatal("open called while OPEN")
		return nil, nil
	})
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("got %v, want ErrOpen", err)
	}
}

func TestRunStreamOpenErrorIsReportedAndReturned(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr)
	body, err := c.RunStream(context.Background(), circuit, func(context.Context) (io.ReadCloser, error) {
		return nil, &HTTPError{StatusCode: 404}
	})
	var httpErr *HTTPError
	if body != nil || !errors.As(err, &httpErr) || httpErr.StatusCode != 404 {
		t.Fatalf("got %v, %v; want no reader and the 404", body, err)
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{ignored: 1}) {
		t.Fatalf("counts %+v, want 1 ignored (a 404 is the caller's)", countsOf(s))
	}
}

func TestRunStreamEndsWithoutWaitingForItsReport(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	rpcs := newRPCCounter()
	rpcs.hold = make(chan struct{})
	release := sync.OnceFunc(func() { close(rpcs.hold) })
	c := newClient(t, addr, rpcs.option())
	t.Cleanup(release) // before the client's Close, which would wait for the held Report
	body, err := c.RunStream(context.Background(), circuit, func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("all of it")), nil
	})
	if err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	// BatchReport is held: the stream reaching EOF at all shows reading does not wait for it.
	hangGuard(t, "reading to EOF with the Report held", func() { _, _ = io.ReadAll(body) })
	release()
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("counts %+v, want 1 success", countsOf(s))
	}
}

func TestRunStreamCallTimeoutEndsTheStreamAsATimeout(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr, WithCallTimeout(time.Millisecond))
	body, err := c.RunStream(context.Background(), circuit, func(ctx context.Context) (io.ReadCloser, error) {
		return &ctxStream{ctx: ctx}, nil
	})
	if err != nil {
		t.Fatalf("RunStream: %v", err)
	}
	if _, err := io.ReadAll(body); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read: %v, want the stream's context to end with DeadlineExceeded", err)
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{timeouts: 1, failures: 1}) {
		t.Fatalf("counts %+v, want 1 timeout (also a failure)", countsOf(s))
	}
}

// ctxStream is a stream that yields nothing until its context ends.
type ctxStream struct{ ctx context.Context }

func (s *ctxStream) Read([]byte) (int, error) { <-s.ctx.Done(); return 0, s.ctx.Err() }
func (s *ctxStream) Close() error             { return nil }

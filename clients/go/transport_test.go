package breakerbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// dependency is an HTTP server standing in for an LLM API: /429 rate-limits
// with Retry-After 120, /404 is the caller's mistake, /stream answers in
// two flushed chunks, /broken breaks off after its first chunk.
func dependency(t *testing.T) (*httptest.Server, *atomic.Int32) {
	hits := &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/429":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/404":
			w.WriteHeader(http.StatusNotFound)
		case "/stream":
			_, _ = io.WriteString(w, "data: one\n")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "data: two\n")
		case "/broken":
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, "data: one\n")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// guardedHTTP is an http.Client whose requests are guarded on circuit.
func guardedHTTP(c *Client, circuit string) *http.Client {
	return &http.Client{Transport: c.Transport(nil, func(*http.Request) string { return circuit })}
}

func get(t *testing.T, hc *http.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hc.Do(req)
}

func TestTransport429WithRetryAfterTripsAndTheHintReachesTheServer(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	dep, hits := dependency(t)
	c := newClient(t, addr)
	hc := guardedHTTP(c, circuit)
	for range serverThreshold {
		resp, err := get(t, hc, dep.URL+"/429")
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("got %v %v, want the 429 response", resp, err)
		}
		_ = resp.Body.Close()
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); s.GetState() != breakerboxv1.State_STATE_OPEN || countsOf(s) != (counts{failures: serverThreshold}) {
		t.Fatalf("state %s, counts %+v; want OPEN after %d failures", s.GetState(), countsOf(s), serverThreshold)
	}
	// The server keeps it OPEN for the dependency's 120 s, not its own 30 s.
	other := newClient(t, addr)
	acq, err := other.API().Acquire(context.Background(), &breakerboxv1.AcquireRequest{Circuit: circuit})
	if err != nil || acq.GetAllowed() || acq.GetRetryAfter().AsDuration() != 120*time.Second {
		t.Fatalf("Acquire: %v %v, want denied with retry_after 120s", acq, err)
	}
	// And the guarded client is now refused before the request is sent.
	before := hits.Load()
	_, err = get(t, hc, dep.URL+"/429")
	var denied *OpenError
	if !errors.Is(err, ErrOpen) || !errors.As(err, &denied) || denied.RetryAfter != 120*time.Second || hits.Load() != before {
		t.Fatalf("got %v (hits %d -> %d), want ErrOpen with retry after 120s and no request", err, before, hits.Load())
	}
}

func TestTransport404IsIgnored(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	dep, _ := dependency(t)
	c := newClient(t, addr)
	resp, err := get(t, guardedHTTP(c, circuit), dep.URL+"/404")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("got %v %v, want the 404 response", resp, err)
	}
	_ = resp.Body.Close()
	flush(t, c)
	if s := stateOf(t, addr, circuit); s.GetState() != breakerboxv1.State_STATE_CLOSED || countsOf(s) != (counts{ignored: 1}) {
		t.Fatalf("state %s, counts %+v; want CLOSED with 1 ignored", s.GetState(), countsOf(s))
	}
}

func TestTransportReportsAStreamWhenItsBodyEnds(t *testing.T) {
	addr := serverAddress(t)
	circuit := circuitFor(t, "a")
	dep, _ := dependency(t)
	c := newClient(t, addr)
	hc := guardedHTTP(c, circuit)

	resp, err := get(t, hc, dep.URL+"/stream")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("got %v %v", resp, err)
	}
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{}) {
		t.Fatalf("counts %+v with the headers in, want nothing reported yet", countsOf(s))
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "data: one\ndata: two\n" {
		t.Fatalf("body %q, %v", body, err)
	}
	_ = resp.Body.Close()
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1}) {
		t.Fatalf("counts %+v after the body was read and closed, want 1 success", countsOf(s))
	}

	// A stream that breaks midway is the failure it is.
	resp, err = get(t, hc, dep.URL+"/broken")
	if err != nil {
		t.Fatalf("get /broken: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("read /broken: %v, want unexpected EOF", err)
	}
	_ = resp.Body.Close()
	flush(t, c)
	if s := stateOf(t, addr, circuit); countsOf(s) != (counts{successes: 1, failures: 1}) {
		t.Fatalf("counts %+v after the broken stream, want 1 success and 1 failure", countsOf(s))
	}
}

func TestTransportPassesUnguardedRequestsThrough(t *testing.T) {
	addr := serverAddress(t)
	dep, hits := dependency(t)
	rpcs := newRPCCounter()
	c := newClient(t, addr, rpcs.option())
	resp, err := get(t, guardedHTTP(c, ""), dep.URL+"/stream")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if hits.Load() != 1 || rpcs.count("Acquire") != 0 {
		t.Fatalf("hits %d, Acquires %d; want the request sent without an Acquire", hits.Load(), rpcs.count("Acquire"))
	}
}

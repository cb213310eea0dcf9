package breakerbox

// The steps of a conformance scenario, as clients/conformance/README.md
// defines them, played with this client's own API: Run and RunWithFallback
// for calls, RunStream for streams, Flush, Watch; GetState and ForceState
// with the generated stubs on the harness's direct address.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// conformanceClient is a scenario's `client` map; every key maps to the
// option of that meaning (unknown keys fail the scenario).
type conformanceClient struct {
	OnUnavailable         string   `json:"on_unavailable"`
	RPCTimeout            *float64 `json:"rpc_timeout"`
	ServiceRetry          *float64 `json:"service_retry"`
	LocalFailureThreshold *int     `json:"local_failure_threshold"`
	LocalOpenSeconds      *float64 `json:"local_open_seconds"`
}

// conformanceStep is one step: exactly one action key, and the modifiers.
type conformanceStep struct {
	Call        *string            `json:"call"`
	Stream      *string            `json:"stream"`
	Flush       *struct{}          `json:"flush"`
	State       *string            `json:"state"`
	Stats       *map[string]uint64 `json:"stats"`
	Sleep       *float64           `json:"sleep"`
	Harness     *string            `json:"harness"`
	Force       *string            `json:"force"`
	WatchStart  *struct{}          `json:"watch_start"`
	WatchExpect *watchExpectation  `json:"watch_expect"`
	WatchStop   *struct{}          `json:"watch_stop"`

	Expect        string            `json:"expect"`
	Times         int               `json:"times"`
	Fast          bool              `json:"fast"`
	MaxElapsed    float64           `json:"max_elapsed"`
	RetryFor      float64           `json:"retry_for"`
	Fallback      bool              `json:"fallback"`
	Headers       map[string]string `json:"headers"`
	RetryAfterMin float64           `json:"retry_after_min"`
}

type watchExpectation struct {
	Kind   string  `json:"kind"`
	State  string  `json:"state"`
	To     string  `json:"to"`
	Within float64 `json:"within"`
}

// strictJSON decodes raw into v, refusing keys v does not have.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// player plays one scenario with a client of its own on a circuit of its own.
type player struct {
	t          *testing.T
	h          *harness
	circuit    string
	c          *Client
	rpcTimeout time.Duration
	watch      *playerWatch
}

type playerWatch struct {
	cancel context.CancelFunc
	done   chan error
	msgs   chan *breakerboxv1.WatchResponse
}

func newPlayer(t *testing.T, h *harness, sc scenario) *player {
	var opts conformanceClient
	if len(sc.Client) > 0 {
		if err := strictJSON(sc.Client, &opts); err != nil {
			t.Fatalf("scenario %s: client options %s: %v", sc.Name, sc.Client, err)
		}
	}
	p := &player{t: t, h: h, circuit: conformanceCircuit(sc.Name), rpcTimeout: defaultConfig().rpcTimeout}
	options := []Option{WithLogger(slog.New(slog.NewTextHandler(testLog{t}, nil)))}
	switch opts.OnUnavailable {
	case "", "fail_open":
		options = append(options, WithPolicy(FailOpen))
	case "fail_closed":
		options = append(options, WithPolicy(FailClosed))
	default:
		t.Fatalf("on_unavailable %q: want fail_open or fail_closed", opts.OnUnavailable)
	}
	if opts.RPCTimeout != nil {
		p.rpcTimeout = seconds(*opts.RPCTimeout)
		options = append(options, WithRPCTimeout(p.rpcTimeout))
	}
	if opts.ServiceRetry != nil {
		options = append(options, WithServiceRetry(seconds(*opts.ServiceRetry)))
	}
	if opts.LocalFailureThreshold != nil || opts.LocalOpenSeconds != nil {
		threshold, openFor := defaultConfig().localThreshold, defaultConfig().localOpenFor
		if opts.LocalFailureThreshold != nil {
			threshold = *opts.LocalFailureThreshold
		}
		if opts.LocalOpenSeconds != nil {
			openFor = seconds(*opts.LocalOpenSeconds)
		}
		options = append(options, WithLocalBreaker(threshold, openFor))
	}
	c, err := New(h.address, options...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p.c = c
	t.Cleanup(func() {
		p.stopWatch()
		_ = c.Close()
	})
	t.Logf("circuit %s: %s", p.circuit, sc.About)
	return p
}

// testLog sends the client's log lines to the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (p *player) step(n int, raw json.RawMessage) {
	t := p.t
	var s conformanceStep
	if err := strictJSON(raw, &s); err != nil {
		t.Fatalf("step %d %s: %v", n, raw, err)
	}
	actions := 0
	for _, set := range []bool{s.Call != nil, s.Stream != nil, s.Flush != nil, s.State != nil, s.Stats != nil, s.Sleep != nil, s.Harness != nil, s.Force != nil, s.WatchStart != nil, s.WatchExpect != nil, s.WatchStop != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		t.Fatalf("step %d %s: want exactly one action key, got %d", n, raw, actions)
	}
	where := fmt.Sprintf("step %d %s", n, raw)
	switch {
	case s.Call != nil, s.Stream != nil:
		p.guarded(where, s)
	case s.Flush != nil:
		ctx, cancel := context.WithTimeout(context.Background(), harnessTimeout)
		defer cancel()
		if err := p.c.Flush(ctx); err != nil {
			t.Fatalf("%s: Flush: %v", where, err)
		}
	case s.State != nil:
		want, ok := breakerboxv1.State_value["STATE_"+*s.State]
		if got := p.status(where).GetState(); !ok || got != breakerboxv1.State(want) {
			t.Fatalf("%s: state %s", where, got)
		}
	case s.Stats != nil:
		stats := p.status(where).GetStats()
		totals := map[string]uint64{"successes": stats.GetTotalSuccesses(), "failures": stats.GetTotalFailures(), "ignored": stats.GetTotalIgnored()}
		for name, want := range *s.Stats {
			got, ok := totals[name]
			if !ok {
				t.Fatalf("%s: unknown total %q (successes, failures, ignored)", where, name)
			}
			if got != want {
				t.Fatalf("%s: %s = %d; totals %v", where, name, got, totals)
			}
		}
	case s.Sleep != nil:
		time.Sleep(seconds(*s.Sleep))
	case s.Harness != nil:
		p.h.send(t, *s.Harness)
	case s.Force != nil:
		pins := map[string]breakerboxv1.Pin{"FORCED_OPEN": breakerboxv1.Pin_PIN_FORCED_OPEN, "RELEASE": breakerboxv1.Pin_PIN_NONE}
		pin, ok := pins[*s.Force]
		if !ok {
			t.Fatalf("%s: force FORCED_OPEN or RELEASE", where)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := p.h.api.ForceState(ctx, &breakerboxv1.ForceStateRequest{Circuit: p.circuit, Pin: pin}); err != nil {
			t.Fatalf("%s: ForceState on %s: %v", where, p.h.direct, err)
		}
	case s.WatchStart != nil:
		p.startWatch(where)
	case s.WatchExpect != nil:
		p.expectWatch(where, *s.WatchExpect)
	case s.WatchStop != nil:
		p.stopWatch()
	}
}

// status is the circuit's status as the server itself (direct) says.
func (p *player) status(where string) *breakerboxv1.CircuitStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := p.h.api.GetState(ctx, &breakerboxv1.GetStateRequest{Circuit: p.circuit})
	if err != nil {
		p.t.Fatalf("%s: GetState on %s: %v", where, p.h.direct, err)
	}
	return resp.GetStatus()
}

// guarded plays a call or stream step: times repetitions, each retried
// every 0.2 s for retry_for seconds until its expectation holds.
func (p *player) guarded(where string, s conformanceStep) {
	for i := range max(s.Times, 1) {
		deadline := time.Now().Add(seconds(s.RetryFor))
		for {
			problem := p.attempt(s)
			if problem == "" {
				break
			}
			if s.RetryFor <= 0 || time.Now().After(deadline) {
				p.t.Fatalf("%s, time %d: %s", where, i+1, problem)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// outcome is what one guarded call or stream gave back.
type outcome struct {
	ran      bool   // the function (or the stream's open) ran
	value    string // its value, or every item of the stream
	err      error  // what the caller got
	own      error  // the function's own error, if it raised one
	fellBack *OpenError
}

// attempt makes the call once; "" when it met the step's expectation.
func (p *player) attempt(s conformanceStep) string {
	start := time.Now()
	var o outcome
	if s.Call != nil {
		o = p.call(s)
	} else {
		o = p.stream(s)
	}
	elapsed := time.Since(start)
	if problem := expectation(s, o); problem != "" {
		return problem
	}
	if s.Fast && elapsed >= p.rpcTimeout/2 {
		return fmt.Sprintf("took %s, not fast (under half the rpc_timeout %s)", elapsed, p.rpcTimeout)
	}
	if s.MaxElapsed > 0 && elapsed > seconds(s.MaxElapsed) {
		return fmt.Sprintf("took %s, over max_elapsed %gs", elapsed, s.MaxElapsed)
	}
	return ""
}

func (p *player) call(s conformanceStep) outcome {
	var o outcome
	fn := func(context.Context) error {
		o.ran = true
		switch *s.Call {
		case "ok":
			o.value = "ok"
		case "ok_then_blackhole":
			p.h.send(p.t, "blackhole")
			o.value = "ok"
		case "fail":
			o.own = errors.New("conformance: the function failed")
		case "http_404", "http_429", "http_503":
			code := map[string]int{"http_404": 404, "http_429": 429, "http_503": 503}[*s.Call]
			header := http.Header{}
			for k, v := range s.Headers {
				header.Set(k, v)
			}
			o.own = &HTTPError{StatusCode: code, Hint: RetryAfterFromHeader(header, time.Now())}
		default:
			p.t.Fatalf("call %q: unknown function", *s.Call)
		}
		return o.own
	}
	if s.Fallback {
		o.err = p.c.RunWithFallback(context.Background(), p.circuit, fn, func(_ context.Context, denied *OpenError) error {
			o.fellBack, o.value = denied, "fallback"
			return nil
		})
	} else {
		o.err = p.c.Run(context.Background(), p.circuit, fn)
	}
	return o
}

func (p *player) stream(s conformanceStep) outcome {
	var o outcome
	if s.Fallback {
		p.t.Fatal("a stream step has no fallback")
	}
	open := func(context.Context) (io.ReadCloser, error) {
		o.ran = true
		switch *s.Stream {
		case "ok":
			return &itemStream{items: []string{"a", "b"}, end: io.EOF}, nil
		case "fail_midway":
			o.own = errors.New("conformance: the stream broke")
			return &itemStream{items: []string{"a", "b"}, end: o.own}, nil
		}
		p.t.Fatalf("stream %q: unknown function", *s.Stream)
		return nil, nil
	}
	body, err := p.c.RunStream(context.Background(), p.circuit, open)
	if err != nil {
		o.err = err
		return o
	}
	data, err := io.ReadAll(body)
	o.value, o.err = string(data), err
	_ = body.Close()
	return o
}

// expectation checks o against the step's expect; "" when it holds.
func expectation(s conformanceStep, o outcome) string {
	want := "ok"
	if s.Stream != nil {
		want = "ab"
	}
	var denied *OpenError
	isOpen := errors.As(o.err, &denied) && errors.Is(o.err, ErrOpen)
	switch s.Expect {
	case "ok":
		if o.err != nil || !o.ran || o.value != want || o.fellBack != nil {
			return fmt.Sprintf("want %q, got %q, error %v (function ran: %v)", want, o.value, o.err, o.ran)
		}
	case "raised":
		if !o.ran || o.own == nil || o.err != o.own || (s.Stream != nil && o.value != want) {
			return fmt.Sprintf("want the function's own error %v, got %#v (items %q, function ran: %v)", o.own, o.err, o.value, o.ran)
		}
	case "open":
		if o.ran || !isOpen || denied.ServiceDown {
			return fmt.Sprintf("want the open error without the function run, got %v (function ran: %v)", o.err, o.ran)
		}
		if denied.RetryAfter < seconds(s.RetryAfterMin) {
			return fmt.Sprintf("retry after %s, want at least %gs", denied.RetryAfter, s.RetryAfterMin)
		}
	case "fallback":
		if !s.Fallback || o.ran || o.err != nil || o.fellBack == nil || o.value != "fallback" {
			return fmt.Sprintf("want the fallback's value without the function run, got %q, error %v (function ran: %v)", o.value, o.err, o.ran)
		}
	case "unavailable":
		if o.ran || !errors.Is(o.err, ErrServiceUnavailable) {
			return fmt.Sprintf("want ErrServiceUnavailable without the function run, got %v (function ran: %v)", o.err, o.ran)
		}
	default:
		return fmt.Sprintf("unknown expect %q", s.Expect)
	}
	return ""
}

// itemStream yields its items, one per Read, then ends with end (io.EOF or an error).
type itemStream struct {
	items []string
	end   error
}

func (s *itemStream) Read(b []byte) (int, error) {
	if len(s.items) == 0 {
		return 0, s.end
	}
	n := copy(b, s.items[0])
	if s.items[0] = s.items[0][n:]; s.items[0] == "" {
		s.items = s.items[1:]
	}
	return n, nil
}

func (s *itemStream) Close() error { return nil }

func (p *player) startWatch(where string) {
	if p.watch != nil {
		p.t.Fatalf("%s: a watch is already running", where)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &playerWatch{cancel: cancel, done: make(chan error, 1), msgs: make(chan *breakerboxv1.WatchResponse, 10_000)}
	go func() {
		w.done <- p.c.Watch(ctx, WatchOptions{Circuits: []string{p.circuit}}, func(m *breakerboxv1.WatchResponse) error {
			w.msgs <- m
			return nil
		})
	}()
	p.watch = w
}

// expectWatch checks the watch's next message, heartbeats skipped; a
// snapshot is its circuit's message and the snapshot_complete after it.
func (p *player) expectWatch(where string, want watchExpectation) {
	if p.watch == nil {
		p.t.Fatalf("%s: no watch running", where)
	}
	within := 5 * time.Second
	if want.Within > 0 {
		within = seconds(want.Within)
	}
	timeout := time.After(within)
	snapshotSeen := false
	for {
		var m *breakerboxv1.WatchResponse
		select {
		case m = <-p.watch.msgs:
		case err := <-p.watch.done:
			p.t.Fatalf("%s: the watch ended: %v", where, err)
		case <-timeout:
			p.t.Fatalf("%s: nothing within %s", where, within)
		}
		if m.GetHeartbeat() != nil || (m.GetSnapshotComplete() != nil && !snapshotSeen) {
			continue
		}
		switch want.Kind {
		case "snapshot":
			// A snapshot is given once it is complete: its end carries the
			// first resume token, so only then can a cut-off watch resume.
			if snapshotSeen && m.GetSnapshotComplete() != nil {
				return
			}
			if s := m.GetSnapshot(); snapshotSeen || s == nil || s.GetCircuit() != p.circuit || s.GetState().String() != "STATE_"+want.State {
				p.t.Fatalf("%s: got %v", where, m)
			}
			snapshotSeen = true
			continue
		case "transition":
			if e := m.GetEvent(); e == nil || e.GetCircuit() != p.circuit || e.GetToState().String() != "STATE_"+want.To {
				p.t.Fatalf("%s: got %v", where, m)
			}
		default:
			p.t.Fatalf("%s: unknown kind %q (snapshot, transition)", where, want.Kind)
		}
		return
	}
}

func (p *player) stopWatch() {
	if p.watch == nil {
		return
	}
	w := p.watch
	p.watch = nil
	w.cancel()
	select {
	case err := <-w.done:
		if !errors.Is(err, context.Canceled) {
			p.t.Errorf("the watch ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		p.t.Errorf("the watch did not end within 10s of its context")
	}
}

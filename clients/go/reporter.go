package breakerbox

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
)

// maxBatch is the most reports one BatchReport takes.
const maxBatch = 100

// maxSendAttempts bounds the BatchReport retries of one batch: a permit is
// only worth reporting within permit_ttl (30 s by default).
const maxSendAttempts = 8

// reporter sends Reports off the caller's path: Run enqueues and returns, a
// background goroutine sends them in batches and retries with jitter while
// the service is unreachable. A permit counts once, so a resent Report whose
// first answer was lost is harmless.
//
// A batch smaller than maxBatch first waits up to linger (WithReportLinger,
// default 2 ms) for more reports: calls made back to back then cost the
// service one BatchReport per several calls instead of one per call, which
// otherwise competes with the next Acquire (bench/client-overhead). A full
// batch, flush and close cut the wait short; the backoff after a failure is
// separate. The same design as the TypeScript and Python clients.
type reporter struct {
	api    breakerboxv1.CircuitServiceClient
	local  *localState
	log    *slog.Logger
	rpc    time.Duration
	retry  time.Duration
	limit  int
	linger time.Duration
	abort  context.Context // cancelled when Close gives up flushing
	cancel context.CancelFunc

	mu       sync.Mutex
	queue    []*breakerboxv1.ReportRequest
	inflight int
	closing  bool
	flushers int           // flush calls waiting: they end the linger
	hurry    chan struct{} // a buffered nudge ending the linger: a full batch, flush, close
	wake     chan struct{} // a buffered nudge for the loop
	changed  chan struct{} // closed (and replaced) whenever the queue drains a batch
	done     chan struct{} // closed when the loop has exited
}

func newReporter(api breakerboxv1.CircuitServiceClient, local *localState, cfg *config) *reporter {
	abort, cancel := context.WithCancel(context.Background())
	r := &reporter{
		api: api, local: local, log: cfg.logger, rpc: cfg.rpcTimeout, retry: cfg.serviceRetry,
		limit: max(cfg.queueSize, 1), linger: cfg.reportLinger, abort: abort, cancel: cancel,
		wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), changed: make(chan struct{}), done: make(chan struct{}),
	}
	go r.loop()
	return r
}

// enqueue queues a Report without blocking; false when the queue is full or closed.
func (r *reporter) enqueue(req *breakerboxv1.ReportRequest) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing || len(r.queue) >= r.limit {
		return false
	}
	r.queue = append(r.queue, req)
	nudge(r.wake)
	if len(r.queue) >= maxBatch {
		nudge(r.hurry)
	}
	return true
}

// flush waits until every Report queued so far has been sent (or given up on).
func (r *reporter) flush(ctx context.Context) error {
	r.mu.Lock()
	r.flushers++
	r.mu.Unlock()
	nudge(r.hurry)
	defer func() {
		r.mu.Lock()
		r.flushers--
		r.mu.Unlock()
	}()
	for {
		r.mu.Lock()
		idle := len(r.queue) == 0 && r.inflight == 0
		changed := r.changed
		r.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-changed:
		case <-r.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close stops accepting Reports, sends the queued ones for at most timeout, then drops the rest.
func (r *reporter) close(timeout time.Duration) {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	nudge(r.wake)
	nudge(r.hurry)
	select {
	case <-r.done:
	case <-time.After(timeout):
		r.cancel()
		<-r.done
	}
	r.cancel()
}

func (r *reporter) loop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		if r.linger > 0 && len(r.queue) > 0 && len(r.queue) < maxBatch && !r.closing && r.flushers == 0 {
			// A nudge from before this check is stale: what it meant was seen above.
			select {
			case <-r.hurry:
			default:
			}
			r.mu.Unlock()
			r.waitLinger()
			r.mu.Lock()
		}
		n := min(len(r.queue), maxBatch)
		batch := append([]*breakerboxv1.ReportRequest(nil), r.queue[:n]...)
		r.queue = r.queue[n:]
		r.inflight = n
		closing := r.closing
		r.mu.Unlock()
		if n == 0 {
			if closing || r.abort.Err() != nil {
				return
			}
			<-r.wake
			continue
		}
		r.send(batch)
		r.mu.Lock()
		r.inflight = 0
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// waitLinger waits for more reports: linger, or less when nudged (a full batch, flush, close).
func (r *reporter) waitLinger() {
	t := time.NewTimer(r.linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.hurry:
	case <-r.abort.Done():
	}
}

// nudge wakes whoever waits on c, or leaves a nudge for them.
func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// send delivers one batch, retrying the reports the service could not take
// because it (or its store) was unreachable, with jittered exponential backoff.
func (r *reporter) send(batch []*breakerboxv1.ReportRequest) {
	backoff := 100 * time.Millisecond
	for attempt := 1; len(batch) > 0; attempt++ {
		if r.abort.Err() != nil {
			r.log.Warn("breakerbox: reports dropped at close", "count", len(batch))
			return
		}
		ctx, cancel := context.WithTimeout(r.abort, r.rpc)
		resp, err := r.api.BatchReport(ctx, &breakerboxv1.BatchReportRequest{Reports: batch})
		cancel()
		var retry []*breakerboxv1.ReportRequest
		switch {
		case err != nil && unreachable(err):
			e := newRPCError("BatchReport", err)
			r.local.markDown(r.retry, e.RetryDelay)
			retry = batch
		case err != nil:
			r.log.Warn("breakerbox: reports dropped", "count", len(batch), "error", newRPCError("BatchReport", err))
		default:
			r.local.markUp()
			for i, res := range resp.GetResults() {
				st := res.GetError()
				if st == nil || i >= len(batch) {
					continue
				}
				if code := codes.Code(st.GetCode()); code == codes.Unavailable || code == codes.DeadlineExceeded {
					retry = append(retry, batch[i])
					continue
				}
				// FAILED_PRECONDITION (expired, foreign, malformed permit): retrying cannot help.
				r.log.Warn("breakerbox: report refused", "circuit", batch[i].GetCircuit(), "code", codes.Code(st.GetCode()), "error", st.GetMessage())
			}
		}
		batch = retry
		if len(batch) == 0 {
			return
		}
		if attempt == maxSendAttempts {
			r.log.Warn("breakerbox: reports dropped after retries", "count", len(batch), "attempts", attempt)
			return
		}
		// Full jitter around the backoff: many agents coming back at once do not retry in step.
		wait := backoff/2 + rand.N(backoff)
		backoff = min(backoff*2, 5*time.Second)
		select {
		case <-time.After(wait):
		case <-r.abort.Done():
		}
	}
}

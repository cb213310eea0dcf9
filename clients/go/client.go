package breakerbox

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Client guards calls with one Breakerbox service. It is safe for
// concurrent use; Close it to flush the queued Reports.
type Client struct {
	cfg      config
	conn     *grpc.ClientConn
	api      breakerboxv1.CircuitServiceClient
	local    *localState
	reports  *reporter
	closeMu  sync.Mutex  // serializes Close
	closed   atomic.Bool // set as Close starts, so Run fails fast instead of waiting for the flush
	closeErr error
}

// New connects to the Breakerbox gRPC API at target (e.g. "localhost:50051").
// The connection is made lazily: New does not wait for the service.
func New(target string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if cfg.apiKey != "" {
		dial = append(dial, grpc.WithChainUnaryInterceptor(bearerUnary(cfg.apiKey)), grpc.WithChainStreamInterceptor(bearerStream(cfg.apiKey)))
	}
	conn, err := grpc.NewClient(target, append(dial, cfg.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("breakerbox: connect %s: %w", target, err)
	}
	c := &Client{cfg: cfg, conn: conn, api: breakerboxv1.NewCircuitServiceClient(conn)}
	c.local = newLocalState(&c.cfg)
	c.reports = newReporter(c.api, c.local, &c.cfg)
	return c, nil
}

// API is the generated CircuitService client on the same connection, for
// the RPCs the helpers do not cover (GetState, Watch, admin calls).
func (c *Client) API() breakerboxv1.CircuitServiceClient { return c.api }

// Flush waits until every Report queued so far has been sent, or ctx ends.
func (c *Client) Flush(ctx context.Context) error { return c.reports.flush(ctx) }

// Close sends the queued Reports (for at most the flush timeout) and closes
// the connection. Run returns ErrClosed afterwards. Idempotent.
func (c *Client) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Swap(true) {
		return c.closeErr
	}
	c.reports.close(c.cfg.flushTimeout)
	c.closeErr = c.conn.Close()
	return c.closeErr
}

// admission is an admitted call: report hands its outcome to where it belongs.
type admission struct {
	c       *Client
	circuit string
	permit  string        // a service permit; "" for a local admission
	local   *localBreaker // the fail-open breaker; nil when admitted by the service or unguarded
	start   time.Time
}

// admit decides whether a call on circuit may go ahead: a circuit known OPEN
// fails fast, the "service down" memo skips the service, else Acquire.
func (c *Client) admit(ctx context.Context, circuit string) (*admission, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("breakerbox: acquire %s: %w", circuit, err)
	}
	if denied := c.local.knownOpenError(circuit); denied != nil {
		return nil, denied
	}
	if c.local.serviceDown() {
		return c.admitDegraded(circuit)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.rpcTimeout)
	resp, err := c.api.Acquire(actx, &breakerboxv1.AcquireRequest{Circuit: circuit, AgentInstanceId: c.cfg.agentInstanceID})
	cancel()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			// The caller gave up (or its deadline came) while Acquire was
			// under way: that says nothing about the service.
			return nil, fmt.Errorf("breakerbox: acquire %s: %w", circuit, cerr)
		}
		rpcErr := newRPCError("Acquire", err)
		if !unreachable(err) {
			return nil, rpcErr
		}
		c.local.markDown(c.cfg.serviceRetry, rpcErr.RetryDelay)
		c.cfg.logger.Warn(unreachableNotice[c.cfg.policy], "circuit", circuit, "retry_in", max(c.cfg.serviceRetry, rpcErr.RetryDelay), "error", rpcErr)
		return c.admitDegraded(circuit)
	}
	c.local.markUp()
	if !resp.GetAllowed() {
		denied := &OpenError{Circuit: circuit, State: resp.GetState(), Reason: resp.GetReason(), RetryAfter: resp.GetRetryAfter().AsDuration()}
		c.local.rememberDenial(circuit, denied)
		return nil, denied
	}
	return &admission{c: c, circuit: circuit, permit: resp.GetPermit(), start: time.Now()}, nil
}

// unreachableNotice is logged once each time the service is found
// unreachable (not once per call: the memo answers the calls after it).
var unreachableNotice = map[Policy]string{
	FailOpen:   "breakerbox unreachable: calling without a permit (fail open)",
	FailClosed: "breakerbox unreachable: refusing calls (fail closed)",
}

// admitDegraded applies the policy while the service is known down.
func (c *Client) admitDegraded(circuit string) (*admission, error) {
	if c.cfg.policy == FailClosed {
		return nil, &OpenError{Circuit: circuit, Local: true, ServiceDown: true}
	}
	b, denied := c.local.admitLocally(circuit)
	if denied != nil {
		return nil, denied
	}
	return &admission{c: c, circuit: circuit, local: b, start: time.Now()}, nil
}

// report records the call's outcome: on the local breaker, or queued for
// the service. It never blocks.
func (a *admission) report(outcome breakerboxv1.Outcome, hint time.Duration) {
	if a.permit == "" {
		if a.local != nil {
			a.c.local.recordLocally(a.circuit, a.local, outcome, hint)
		}
		return
	}
	req := &breakerboxv1.ReportRequest{
		Circuit:         a.circuit,
		Permit:          a.permit,
		Outcome:         outcome,
		Duration:        durationpb.New(time.Since(a.start)),
		AgentInstanceId: a.c.cfg.agentInstanceID,
	}
	if hint > 0 {
		req.RetryAfter = durationpb.New(hint)
	}
	if !a.c.reports.enqueue(req) {
		a.c.cfg.logger.Warn("breakerbox: report dropped (queue full or client closed)", "circuit", a.circuit, "outcome", outcome)
	}
}

func bearerUnary(key string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key), method, req, reply, cc, opts...)
	}
}

func bearerStream(key string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key), desc, cc, method, opts...)
	}
}

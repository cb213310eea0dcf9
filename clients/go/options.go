package breakerbox

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"google.golang.org/grpc"
)

// Policy is what Run does while Breakerbox cannot be reached.
type Policy int

const (
	// FailOpen calls the dependency anyway, guarded by a local breaker per
	// circuit (the default).
	FailOpen Policy = iota
	// FailClosed refuses the call with an *OpenError matching ErrServiceUnavailable.
	FailClosed
)

// config is everything the options set.
type config struct {
	apiKey          string
	tls             *tls.Config
	agentInstanceID string
	policy          Policy
	rpcTimeout      time.Duration
	callTimeout     time.Duration
	serviceRetry    time.Duration
	queueSize       int
	reportLinger    time.Duration
	flushTimeout    time.Duration
	localThreshold  int
	localOpenFor    time.Duration
	localFailFast   bool
	isFailure       func(error) bool
	logger          *slog.Logger
	dialOptions     []grpc.DialOption
	now             func() time.Time
}

func defaultConfig() config {
	return config{
		agentInstanceID: defaultAgentInstanceID(),
		policy:          FailOpen,
		rpcTimeout:      2 * time.Second,
		serviceRetry:    5 * time.Second,
		queueSize:       1000,
		reportLinger:    2 * time.Millisecond,
		flushTimeout:    5 * time.Second,
		localThreshold:  5,
		localOpenFor:    30 * time.Second,
		localFailFast:   true,
		logger:          slog.Default(),
		now:             time.Now,
	}
}

// Option configures New.
type Option func(*config)

// WithAPIKey sends "authorization: Bearer key" on every RPC.
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// WithTLS connects over TLS with cfg (nil: the system roots). Without it the
// connection is plaintext, like the server's default.
func WithTLS(cfg *tls.Config) Option {
	return func(c *config) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.tls = cfg
	}
}

// WithAgentInstanceID names this process in Acquire and Report (history and
// Watch show it as the principal). Default: "host:pid".
func WithAgentInstanceID(id string) Option { return func(c *config) { c.agentInstanceID = id } }

// WithPolicy chooses FailOpen (default) or FailClosed for when Breakerbox is unreachable.
func WithPolicy(p Policy) Option { return func(c *config) { c.policy = p } }

// WithRPCTimeout bounds each Acquire and BatchReport (default 2 s). An
// Acquire that does not answer in time counts as the service being unreachable.
func WithRPCTimeout(d time.Duration) Option { return func(c *config) { c.rpcTimeout = d } }

// WithCallTimeout bounds each guarded call: its context ends then, and the
// call is reported as TIMEOUT. Default: none beyond the caller's context.
func WithCallTimeout(d time.Duration) Option { return func(c *config) { c.callTimeout = d } }

// WithServiceRetry is how long the "service down" memo lasts after the
// service was found unreachable (default 5 s, longer when its RetryInfo asks):
// meanwhile calls are admitted by the policy without asking it.
func WithServiceRetry(d time.Duration) Option { return func(c *config) { c.serviceRetry = d } }

// WithReportQueueSize bounds the Reports waiting to be sent (default 1000);
// a Report that finds the queue full is dropped and logged.
func WithReportQueueSize(n int) Option { return func(c *config) { c.queueSize = n } }

// WithReportLinger is how long a batch of fewer than 100 Reports waits for
// more before it is sent (default 2 ms; 0 sends at once): calls made back to
// back then share one BatchReport instead of each costing the service an RPC
// that competes with the next Acquire. A full batch, Flush and Close do not wait.
func WithReportLinger(d time.Duration) Option { return func(c *config) { c.reportLinger = d } }

// WithFlushTimeout bounds how long Close keeps sending queued Reports (default 5 s).
func WithFlushTimeout(d time.Duration) Option { return func(c *config) { c.flushTimeout = d } }

// WithLocalBreaker sets the fail-open local breakers: OPEN after threshold
// consecutive failures, for openFor, then one probe (defaults 5 and 30 s).
func WithLocalBreaker(threshold int, openFor time.Duration) Option {
	return func(c *config) { c.localThreshold, c.localOpenFor = threshold, openFor }
}

// WithLocalFailFast(false) makes every call ask Breakerbox, even on a
// circuit a denial's retry_after or a Watch event says is OPEN (default
// true: such calls are denied locally, without an RPC). Turn it off when the
// service must see every denied call (its rejection counts, its history) or
// when an operator's Reset must be obeyed at once, at the cost of one RPC
// per denied call.
func WithLocalFailFast(enabled bool) Option { return func(c *config) { c.localFailFast = enabled } }

// WithIsFailure decides whether an error of fn says something about the
// dependency; false reports it as IGNORED. Default: every error is a
// failure (timeouts and cancellations are classified before it is asked).
func WithIsFailure(f func(error) bool) Option { return func(c *config) { c.isFailure = f } }

// WithLogger receives fail-open notices and Report problems (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDialOptions adds gRPC dial options (interceptors, keepalive).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOptions = append(c.dialOptions, opts...) }
}

// agentIDChars are the characters an agent_instance_id may hold.
var agentIDInvalid = regexp.MustCompile(`[^A-Za-z0-9._:/@-]`)

// defaultAgentInstanceID is "host:pid", with characters the server refuses
// replaced and cut to its 128-character limit.
func defaultAgentInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	id := agentIDInvalid.ReplaceAllString(fmt.Sprintf("%s:%d", host, os.Getpid()), "-")
	if len(id) > 128 {
		id = id[len(id)-128:]
	}
	return id
}

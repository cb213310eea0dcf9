package breakerbox

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WatchOptions selects what Watch streams.
type WatchOptions struct {
	// Circuits are names to watch; with Prefix, every circuit starting with
	// it too. Both empty watches every circuit.
	Circuits []string
	Prefix   string
	// ResumeToken is a WatchResponse.resume_token of an earlier watch with
	// the same Circuits and Prefix: the stream starts after it, without a snapshot.
	ResumeToken string
	// MaxBackoff caps the reconnect delay (default 30 s); the first is 100 ms.
	MaxBackoff time.Duration
}

// transientWatch are the codes after which Watch reconnects.
var transientWatch = map[codes.Code]bool{
	codes.Canceled: true, codes.Unknown: true, codes.DeadlineExceeded: true,
	codes.ResourceExhausted: true, codes.Internal: true, codes.Unavailable: true,
}

// Watch streams the selected circuits' snapshot, then every transition,
// config change and removal, to handle, until ctx ends (it returns
// ctx.Err()), handle returns an error (returned), or the service refuses the
// watch for good (an *RPCError). It outlives connections: after a transient
// error it reconnects with jittered exponential backoff (the server's
// RetryInfo as a floor) and the last resume_token it received, so it misses
// nothing and gets no second snapshot; when the service no longer has the
// events after the token (RESUME_TOKEN_EXPIRED) it starts over with a
// snapshot. Every message, the kinds this package does not know included,
// is passed on. Transitions also feed the local fail-fast of Run: a circuit
// that went OPEN is denied locally for its open time, any other transition
// forgets that.
func (c *Client) Watch(ctx context.Context, opts WatchOptions, handle func(*breakerboxv1.WatchResponse) error) error {
	maxBackoff := opts.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	token := opts.ResumeToken
	backoff := 100 * time.Millisecond
	for {
		var serverDelay time.Duration
		err := c.watchOnce(ctx, opts, &token, &backoff, handle)
		var handlerErr handlerError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &handlerErr):
			return handlerErr.err
		case err == nil || errors.Is(err, io.EOF):
			// A Watch never ends by itself: the service went away. Reconnect.
		default:
			st, _ := status.FromError(err)
			reason, delay := rpcDetails(st)
			switch {
			case reason == "RESUME_TOKEN_EXPIRED" || (reason == "" && st.Code() == codes.OutOfRange):
				token = ""
			case reason == "WATCHER_TOO_SLOW":
				continue // cut to bound the server's memory: resume at once, nothing is lost
			case !transientWatch[st.Code()]:
				return newRPCError("Watch", err)
			}
			serverDelay = delay
		}
		wait := max(serverDelay, backoff/2+rand.N(backoff))
		backoff = min(backoff*2, maxBackoff)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handlerError carries the error of Watch's handler out of watchOnce.
type handlerError struct{ err error }

func (h handlerError) Error() string { return h.err.Error() }

// watchOnce runs one Watch stream until it fails, keeping the last token and
// resetting the backoff on every message.
func (c *Client) watchOnce(ctx context.Context, opts WatchOptions, token *string, backoff *time.Duration, handle func(*breakerboxv1.WatchResponse) error) error {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.api.Watch(streamCtx, &breakerboxv1.WatchRequest{Circuits: opts.Circuits, Prefix: opts.Prefix, ResumeToken: *token})
	if err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		*backoff = 100 * time.Millisecond
		if t := m.GetResumeToken(); t != "" {
			*token = t
		}
		if e := m.GetEvent(); e != nil {
			c.local.transition(e)
		}
		if err := handle(m); err != nil {
			return handlerError{err}
		}
	}
}

// transition updates the known-OPEN circuits from a Watch event: to OPEN is
// remembered for the open time left as of the event (service clock to ours
// by difference), any other state forgets it.
func (l *localState) transition(e *breakerboxv1.CircuitEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.GetToState() != breakerboxv1.State_STATE_OPEN {
		delete(l.knownOpen, e.GetCircuit())
		return
	}
	if !l.failFast || e.GetOpenUntil() == nil || e.GetAt() == nil {
		return
	}
	if remaining := e.GetOpenUntil().AsTime().Sub(e.GetAt().AsTime()); remaining > 0 {
		l.knownOpen[e.GetCircuit()] = knownOpen{until: l.now().Add(remaining), state: breakerboxv1.State_STATE_OPEN, reason: breakerboxv1.DenyReason_DENY_REASON_OPEN}
	}
}

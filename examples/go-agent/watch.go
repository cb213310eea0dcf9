package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
)

// Watcher follows a Breakerbox Watch stream and hands every transition to
// OnEvent, in order. When the stream breaks (Breakerbox restarting, a
// network blip) it reconnects with the last WatchResponse.resume_token it
// received (heartbeats and kinds it skips carry one too), so it misses nothing; if the server no longer holds those events
// (OUT_OF_RANGE) it starts over with a fresh snapshot.
type Watcher struct {
	client  breakerboxv1.CircuitServiceClient
	request *breakerboxv1.WatchRequest
	onEvent func(*breakerboxv1.CircuitEvent)
	log     *slog.Logger

	ready     chan struct{}
	readyOnce sync.Once

	mu       sync.Mutex
	seen     map[string]uint64 // the newest generation seen per circuit
	progress chan struct{}     // closed and replaced whenever seen grows
}

// NewWatcher watches the circuits (and prefix) of request; onEvent is called
// from Run's goroutine for each transition.
func NewWatcher(client breakerboxv1.CircuitServiceClient, request *breakerboxv1.WatchRequest, onEvent func(*breakerboxv1.CircuitEvent), log *slog.Logger) *Watcher {
	return &Watcher{
		client:   client,
		request:  request,
		onEvent:  onEvent,
		log:      log,
		ready:    make(chan struct{}),
		seen:     map[string]uint64{},
		progress: make(chan struct{}),
	}
}

// Ready is closed once the first snapshot has arrived: every transition
// after that moment will reach OnEvent.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run streams until ctx is done (then it returns nil), reconnecting with
// backoff. It gives up only on errors that retrying cannot fix: a missing or
// wrong API key, or a bad request.
func (w *Watcher) Run(ctx context.Context) error {
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	token := w.request.GetResumeToken()
	for {
		received, err := w.stream(ctx, &token)
		if ctx.Err() != nil {
			return nil
		}
		switch grpcCode(err) {
		case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.Unimplemented:
			return err
		case codes.OutOfRange:
			w.log.Warn("watch: missed events are no longer retained; starting over with a snapshot", "error", err)
			token = ""
		}
		if received {
			backoff = 100 * time.Millisecond
		}
		w.log.Warn("watch: stream ended; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// stream runs one Watch call, keeping *token at the last position received.
// It reports whether any message arrived, and why the stream ended (nil when
// the server closed it with OK, e.g. while shutting down).
func (w *Watcher) stream(ctx context.Context, token *string) (received bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := &breakerboxv1.WatchRequest{
		Circuits:    w.request.GetCircuits(),
		Prefix:      w.request.GetPrefix(),
		ResumeToken: *token,
	}
	stream, err := w.client.Watch(ctx, req)
	if err != nil {
		return false, err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return received, nil
		}
		if err != nil {
			return received, err
		}
		received = true
		// Empty only on snapshot and status messages.
		if t := msg.GetResumeToken(); t != "" {
			*token = t
		}
		switch kind := msg.GetKind().(type) {
		case *breakerboxv1.WatchResponse_Snapshot:
			w.saw(kind.Snapshot.GetCircuit(), kind.Snapshot.GetGeneration())
		case *breakerboxv1.WatchResponse_SnapshotComplete:
			w.readyOnce.Do(func() { close(w.ready) })
		case *breakerboxv1.WatchResponse_Event:
			w.onEvent(kind.Event)
			w.saw(kind.Event.GetCircuit(), kind.Event.GetGeneration())
		case *breakerboxv1.WatchResponse_Heartbeat:
			// Keep-alive while idle: nothing to do.
		default:
			// A kind this client does not know yet: skip it.
		}
	}
}

// WaitForGeneration returns once the stream has delivered circuit's state up
// to generation (every transition up to it has gone to OnEvent), or with
// ctx's error.
func (w *Watcher) WaitForGeneration(ctx context.Context, circuit string, generation uint64) error {
	for {
		w.mu.Lock()
		seen, progress := w.seen[circuit], w.progress
		w.mu.Unlock()
		if seen >= generation {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-progress:
		}
	}
}

func (w *Watcher) saw(circuit string, generation uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if generation > w.seen[circuit] {
		w.seen[circuit] = generation
		close(w.progress)
		w.progress = make(chan struct{})
	}
}

package main

import (
	"context"
	"sync"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// watcher is the handler of the client's Watch (which reconnects and resumes
// by itself): it hands every transition to onEvent, in order, says when the
// first snapshot is in, and tracks how far each circuit's stream has come.
type watcher struct {
	onEvent func(*breakerboxv1.CircuitEvent)

	ready     chan struct{} // closed once the first snapshot is complete
	readyOnce sync.Once

	mu       sync.Mutex
	seen     map[string]uint64 // the newest generation seen per circuit
	progress chan struct{}     // closed and replaced whenever seen grows
}

func newWatcher(onEvent func(*breakerboxv1.CircuitEvent)) *watcher {
	return &watcher{onEvent: onEvent, ready: make(chan struct{}), seen: map[string]uint64{}, progress: make(chan struct{})}
}

// handle is called by Watch for each message, in order.
func (w *watcher) handle(msg *breakerboxv1.WatchResponse) error {
	switch kind := msg.GetKind().(type) {
	case *breakerboxv1.WatchResponse_Snapshot:
		w.saw(kind.Snapshot.GetCircuit(), kind.Snapshot.GetGeneration())
	case *breakerboxv1.WatchResponse_SnapshotComplete:
		w.readyOnce.Do(func() { close(w.ready) })
	case *breakerboxv1.WatchResponse_Event:
		w.onEvent(kind.Event)
		w.saw(kind.Event.GetCircuit(), kind.Event.GetGeneration())
	default:
		// Heartbeats, and kinds this agent has no use for.
	}
	return nil
}

// waitForGeneration returns once the stream has delivered circuit's state up
// to generation (every transition up to it has gone to onEvent), or with
// ctx's error.
func (w *watcher) waitForGeneration(ctx context.Context, circuit string, generation uint64) error {
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

func (w *watcher) saw(circuit string, generation uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if generation > w.seen[circuit] {
		w.seen[circuit] = generation
		close(w.progress)
		w.progress = make(chan struct{})
	}
}

package breakerbox

// The agent's trace context reaches the service (issue 14, item 3): the
// client makes Acquire with the caller's ctx, so a client interceptor or
// stats handler given with WithDialOptions, e.g. OpenTelemetry's
//
//	breakerbox.WithDialOptions(grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
//
// finds the caller's span in it and writes its traceparent into the call's
// metadata. Here a hand-written interceptor stands in for otelgrpc (it does
// what otelgrpc's propagation does: ctx in, traceparent metadata out), so
// the client's module needs no OpenTelemetry dependency; a stub
// CircuitService records what arrives.

import (
	"context"
	"net"
	"sync"
	"testing"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

type spanKey struct{}

// injectTraceparent is the propagation part of otelgrpc's client handler.
func injectTraceparent(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if tp, ok := ctx.Value(spanKey{}).(string); ok {
		ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", tp)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

type recordingService struct {
	breakerboxv1.UnimplementedCircuitServiceServer
	mu           sync.Mutex
	traceparents []string
}

func (s *recordingService) Acquire(ctx context.Context, _ *breakerboxv1.AcquireRequest) (*breakerboxv1.AcquireResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.traceparents = append(s.traceparents, append([]string{}, md.Get("traceparent")...)...)
	s.mu.Unlock()
	return &breakerboxv1.AcquireResponse{Allowed: false, State: breakerboxv1.State_STATE_OPEN}, nil
}

func TestAcquireCarriesTheCallersTraceContext(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	rec := &recordingService{}
	breakerboxv1.RegisterCircuitServiceServer(srv, rec)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	c := newClient(t, lis.Addr().String(), quiet(), WithDialOptions(grpc.WithChainUnaryInterceptor(injectTraceparent)))
	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx := context.WithValue(context.Background(), spanKey{}, traceparent)
	// The stub denies, so no Report follows: only Acquire is made.
	_ = c.Run(ctx, "traced", func(context.Context) error { return nil })
	_ = c.Run(context.Background(), "untraced", func(context.Context) error { return nil })

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.traceparents) != 1 || rec.traceparents[0] != traceparent {
		t.Fatalf("traceparents received: %q, want exactly [%q] (the second call had none)", rec.traceparents, traceparent)
	}
}

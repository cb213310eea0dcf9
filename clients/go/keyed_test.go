package breakerbox

import (
	"context"
	"errors"
	"os"
	"testing"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc/codes"
)

// keyedServer is the wrapper's second server, with access control on, and its agent key.
func keyedServer(t *testing.T) (addr, key string) {
	t.Helper()
	addr, key = os.Getenv("BREAKERBOX_TEST_KEYED_ADDRESS"), os.Getenv("BREAKERBOX_TEST_API_KEY")
	if addr == "" || key == "" {
		t.Skip("BREAKERBOX_TEST_KEYED_ADDRESS / BREAKERBOX_TEST_API_KEY are not set: run through test/e2e/client-go.test.ts")
	}
	return addr, key
}

func TestAPIKeyIsSentOnEveryRPC(t *testing.T) {
	addr, key := keyedServer(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr, WithAPIKey(key))
	msgs := watchInto(t, c, WatchOptions{Circuits: []string{circuit}})
	awaitSnapshotComplete(msgs)
	if err := c.Run(context.Background(), circuit, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	flush(t, c)
	resp, err := c.API().GetState(context.Background(), &breakerboxv1.GetStateRequest{Circuit: circuit})
	if err != nil || countsOf(resp.GetStatus()) != (counts{successes: 1}) {
		t.Fatalf("GetState: %v %v, want 1 success", resp, err)
	}
}

func TestMissingAPIKeyIsAnErrorNotFailOpen(t *testing.T) {
	addr, _ := keyedServer(t)
	c := newClient(t, addr)
	err := c.Run(context.Background(), circuitFor(t, "a"), func(context.Context) error {
		t.Fatal("fn called without credentials")
		return nil
	})
	var rpcErr *RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code != codes.Unauthenticated || rpcErr.Reason != "CREDENTIALS_MISSING" {
		t.Fatalf("got %#v, want UNAUTHENTICATED with reason CREDENTIALS_MISSING", err)
	}
	if c.local.serviceDown() {
		t.Fatal("an UNAUTHENTICATED Acquire marked the service down")
	}
}

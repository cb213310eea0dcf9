package breakerbox

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
)

// forever is a linger only a full batch, Flush or Close can end within a test.
const forever = time.Minute

// fakeBatchReport accepts every Report and records each BatchReport's size.
type fakeBatchReport struct {
	breakerboxv1.CircuitServiceClient // the other RPCs are not called

	mu    sync.Mutex
	sizes []int
	sent  chan struct{} // receives once per BatchReport
}

func (f *fakeBatchReport) BatchReport(_ context.Context, req *breakerboxv1.BatchReportRequest, _ ...grpc.CallOption) (*breakerboxv1.BatchReportResponse, error) {
	f.mu.Lock()
	f.sizes = append(f.sizes, len(req.GetReports()))
	f.mu.Unlock()
	f.sent <- struct{}{}
	resp := &breakerboxv1.BatchReportResponse{}
	for range req.GetReports() {
		resp.Results = append(resp.Results, &breakerboxv1.BatchReportResult{Result: &breakerboxv1.BatchReportResult_Response{Response: &breakerboxv1.ReportResponse{}}})
	}
	return resp, nil
}

func (f *fakeBatchReport) got() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sizes)
}

func lingeringReporter(t *testing.T, linger time.Duration) (*reporter, *fakeBatchReport) {
	t.Helper()
	cfg := defaultConfig()
	cfg.reportLinger = linger
	fake := &fakeBatchReport{sent: make(chan struct{}, 1000)}
	return newReporter(fake, newLocalState(&cfg), &cfg), fake
}

func put(t *testing.T, r *reporter, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if !r.enqueue(&breakerboxv1.ReportRequest{Circuit: "c"}) {
			t.Fatalf("report %d not queued", i)
		}
	}
}

func waitSent(t *testing.T, fake *fakeBatchReport) {
	t.Helper()
	select {
	case <-fake.sent:
	case <-time.After(10 * time.Second):
		t.Fatalf("no BatchReport within 10 s (sent so far: %v)", fake.got())
	}
}

func TestReportsPutWithinTheLingerShareOneBatchReport(t *testing.T) {
	r, fake := lingeringReporter(t, 500*time.Millisecond)
	put(t, r, 0, 1)
	time.Sleep(50 * time.Millisecond) // the sender has long woken up: without a linger it would send [1] now
	put(t, r, 1, 5)
	waitSent(t, fake)
	r.close(5 * time.Second)
	if got := fake.got(); !slices.Equal(got, []int{5}) {
		t.Fatalf("BatchReport sizes %v, want [5]", got)
	}
}

func TestAFullBatchFlushAndCloseDoNotWaitForTheLinger(t *testing.T) {
	r, fake := lingeringReporter(t, forever)
	put(t, r, 0, 1)
	time.Sleep(50 * time.Millisecond) // the sender is lingering by now: the 100th Report must end that
	put(t, r, 1, 100)
	waitSent(t, fake)
	if got := fake.got(); !slices.Equal(got, []int{100}) {
		t.Fatalf("BatchReport sizes %v, want [100]", got)
	}
	put(t, r, 100, 101)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if got := fake.got(); !slices.Equal(got, []int{100, 1}) {
		t.Fatalf("BatchReport sizes after flush %v, want [100 1]", got)
	}
	put(t, r, 101, 102)
	closed := time.Now()
	r.close(5 * time.Second)
	if got := fake.got(); !slices.Equal(got, []int{100, 1, 1}) {
		t.Fatalf("BatchReport sizes after close %v, want [100 1 1] (close took %v)", got, time.Since(closed))
	}
}

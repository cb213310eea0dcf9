package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	breakerbox "github.com/breakerbox/breakerbox/clients/go"
	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// The live behaviour (a real server opening and closing the circuit) is
// checked by test/e2e/example-go.test.ts; these tests pin what the agent
// hands the client.

func TestToolErrorsAreClassifiedByTheirStatus(t *testing.T) {
	tests := []struct {
		err  error
		want breakerboxv1.Outcome
	}{
		{&httpError{status: http.StatusServiceUnavailable}, breakerboxv1.Outcome_OUTCOME_FAILURE},
		{&httpError{status: http.StatusTooManyRequests}, breakerboxv1.Outcome_OUTCOME_FAILURE},
		{&httpError{status: http.StatusBadRequest}, breakerboxv1.Outcome_OUTCOME_IGNORED},
		{context.Canceled, breakerboxv1.Outcome_OUTCOME_IGNORED},
	}
	for _, tt := range tests {
		if got := breakerbox.Classify(tt.err, nil); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	limited := &httpError{status: http.StatusTooManyRequests, header: http.Header{"Retry-After": []string{"120"}}}
	if got := breakerbox.RetryAfterHint(limited); got != 120*time.Second {
		t.Errorf("hint %s, want the Retry-After's 120s", got)
	}
}

func TestFlakyToolFailsOnItsRange(t *testing.T) {
	tool := &flakyTool{failFrom: 2, failTo: 3}
	var got []string
	for range 4 {
		out, err := tool.Call(context.Background())
		var h *httpError
		if errors.As(err, &h) {
			out = h.Error()
		}
		got = append(got, out)
	}
	want := []string{"result 1", "tool failed on call 2 (503 Service Unavailable)", "tool failed on call 3 (503 Service Unavailable)", "result 4"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("calls %q, want %q", got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	if from, to, err := parseRange("5-7"); from != 5 || to != 7 || err != nil {
		t.Fatalf("5-7: %d %d %v", from, to, err)
	}
	for _, bad := range []string{"7-5", "0-3", "5", "a-b"} {
		if _, _, err := parseRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

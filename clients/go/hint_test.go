package breakerbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

func TestRetryAfterFromHeader(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		headers map[string]string
		want    time.Duration
	}{
		{"none", nil, 0},
		{"retry-after-ms first", map[string]string{"retry-after-ms": "1500", "Retry-After": "9"}, 1500 * time.Millisecond},
		{"Retry-After seconds", map[string]string{"Retry-After": "120"}, 120 * time.Second},
		{"Retry-After date", map[string]string{"Retry-After": now.Add(42 * time.Second).Format(http.TimeFormat)}, 42 * time.Second},
		{"Retry-After date in the past", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"x-ratelimit-reset-* durations, the longest", map[string]string{"x-ratelimit-reset-requests": "20ms", "x-ratelimit-reset-tokens": "6m0s"}, 6 * time.Minute},
		{"x-ratelimit-reset seconds", map[string]string{"x-ratelimit-reset-requests": "7"}, 7 * time.Second},
		{"x-ratelimit-reset RFC 3339", map[string]string{"x-ratelimit-reset-tokens": now.Add(3 * time.Second).Format(time.RFC3339)}, 3 * time.Second},
		{"garbage", map[string]string{"Retry-After": "soon", "x-ratelimit-reset-tokens": "later"}, 0},
	}
	for _, tc := range cases {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		if got := RetryAfterFromHeader(h, now); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

type hinted struct{ d time.Duration }

func (h hinted) Error() string             { return "rate limited" }
func (h hinted) RetryAfter() time.Duration { return h.d }

func TestClassify(t *testing.T) {
	notMine := errors.New("bad input")
	isFailure := func(err error) bool { return !errors.Is(err, notMine) }
	cases := []struct {
		err  error
		want breakerboxv1.Outcome
	}{
		{nil, breakerboxv1.Outcome_OUTCOME_SUCCESS},
		{errTool, breakerboxv1.Outcome_OUTCOME_FAILURE},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), breakerboxv1.Outcome_OUTCOME_TIMEOUT},
		{fmt.Errorf("wrapped: %w", context.Canceled), breakerboxv1.Outcome_OUTCOME_IGNORED},
		{&HTTPError{StatusCode: 404}, breakerboxv1.Outcome_OUTCOME_IGNORED},
		{&HTTPError{StatusCode: 429}, breakerboxv1.Outcome_OUTCOME_FAILURE},
		{&HTTPError{StatusCode: 503}, breakerboxv1.Outcome_OUTCOME_FAILURE},
		{notMine, breakerboxv1.Outcome_OUTCOME_IGNORED},
	}
	for _, tc := range cases {
		if got := Classify(tc.err, isFailure); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	if got := RetryAfterHint(fmt.Errorf("call: %w", hinted{3 * time.Second})); got != 3*time.Second {
		t.Errorf("RetryAfterHint = %s, want 3s", got)
	}
}

// sdkError has the shape of openai.Error and anthropic.Error: exported StatusCode and Response fields.
type sdkError struct {
	StatusCode int
	Response   *http.Response
}

func (e *sdkError) Error() string { return fmt.Sprintf("POST /v1/messages: %d", e.StatusCode) }

type statusMethodError struct{}

func (statusMethodError) Error() string   { return "bad gateway" }
func (statusMethodError) StatusCode() int { return 502 }

func TestSDKErrorsAreClassifiedByTheirStatus(t *testing.T) {
	limited := &sdkError{StatusCode: 429, Response: &http.Response{Header: http.Header{"Retry-After-Ms": {"2500"}}}}
	cases := []struct {
		err  error
		want breakerboxv1.Outcome
		hint time.Duration
	}{
		{fmt.Errorf("chat: %w", limited), breakerboxv1.Outcome_OUTCOME_FAILURE, 2500 * time.Millisecond},
		{&sdkError{StatusCode: 400}, breakerboxv1.Outcome_OUTCOME_IGNORED, 0},
		{&sdkError{StatusCode: 529}, breakerboxv1.Outcome_OUTCOME_FAILURE, 0},
		{errors.Join(errors.New("retries exhausted"), statusMethodError{}), breakerboxv1.Outcome_OUTCOME_FAILURE, 0},
		{fmt.Errorf("wrapped: %w", &HTTPError{StatusCode: 401}), breakerboxv1.Outcome_OUTCOME_IGNORED, 0},
	}
	for _, tc := range cases {
		if got := Classify(tc.err, nil); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
		if got := RetryAfterHint(tc.err); got != tc.hint {
			t.Errorf("RetryAfterHint(%v) = %s, want %s", tc.err, got, tc.hint)
		}
	}
}

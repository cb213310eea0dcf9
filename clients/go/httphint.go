package breakerbox

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// HTTPError is an HTTP response that counts against (or says nothing about)
// its dependency: what Transport classified, for callers that turn a
// response into an error themselves. Classify reads its StatusCode; its
// RetryAfter is the response's rate-limit hint.
type HTTPError struct {
	StatusCode int
	Hint       time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// RetryAfter implements RetryAfterer.
func (e *HTTPError) RetryAfter() time.Duration { return e.Hint }

// ClassifyStatus maps an HTTP status to an outcome: 429 and 5xx are
// FAILURE, any other 4xx is IGNORED (the caller's own request), the rest SUCCESS.
func ClassifyStatus(code int) breakerboxv1.Outcome {
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		return breakerboxv1.Outcome_OUTCOME_FAILURE
	case code >= 400:
		return breakerboxv1.Outcome_OUTCOME_IGNORED
	default:
		return breakerboxv1.Outcome_OUTCOME_SUCCESS
	}
}

// RetryAfterFromHeader is the rate-limit hint of a response's headers, 0
// when there is none, in this order of preference:
//
//   - retry-after-ms: milliseconds (OpenAI and Anthropic APIs);
//   - Retry-After: seconds, or an HTTP date (relative to now);
//   - x-ratelimit-reset-*: the longest of them, each a Go-style duration
//     ("6m0s", "20ms"), seconds, or an RFC 3339 time.
func RetryAfterFromHeader(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After-Ms")), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			return max(time.Duration(s*float64(time.Second)), 0)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	var longest time.Duration
	for name, values := range h {
		if !strings.HasPrefix(strings.ToLower(name), "x-ratelimit-reset") || len(values) == 0 {
			continue
		}
		longest = max(longest, parseReset(strings.TrimSpace(values[0]), now))
	}
	return longest
}

// parseReset reads one x-ratelimit-reset-* value; 0 when it is none of the known forms.
func parseReset(v string, now time.Time) time.Duration {
	if d, err := time.ParseDuration(v); err == nil {
		return max(d, 0)
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return max(time.Duration(s*float64(time.Second)), 0)
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

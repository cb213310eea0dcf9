package breakerbox

import (
	"net/http"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// Transport guards the requests of an http.Client: each request on the
// circuit circuitOf names is admitted like Run admits a call ("" sends it
// unguarded). A denied request fails with the *OpenError (inside the
// *url.Error the http.Client returns: errors.Is(err, ErrOpen) holds) and is
// not sent.
//
// Outcomes: a transport error is FAILURE (TIMEOUT / IGNORED for the
// request context's deadline / cancellation); a 429 or 5xx response is
// FAILURE with the hint of RetryAfterFromHeader; another 4xx is IGNORED.
// Any other response is reported when its body is read to the end (SUCCESS),
// fails (classified like a transport error), or is closed (SUCCESS), so a
// stream that breaks midway counts as the failure it is. base nil means
// http.DefaultTransport.
func (c *Client) Transport(base http.RoundTripper, circuitOf func(*http.Request) string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &guardedTransport{c: c, base: base, circuitOf: circuitOf}
}

type guardedTransport struct {
	c         *Client
	base      http.RoundTripper
	circuitOf func(*http.Request) string
}

func (t *guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	circuit := t.circuitOf(req)
	if circuit == "" {
		return t.base.RoundTrip(req)
	}
	a, err := t.c.admit(req.Context(), circuit)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		a.report(Classify(err, nil), 0)
		return nil, err
	}
	if outcome := ClassifyStatus(resp.StatusCode); outcome != breakerboxv1.Outcome_OUTCOME_SUCCESS {
		a.report(outcome, RetryAfterFromHeader(resp.Header, time.Now()))
		return resp, nil
	}
	resp.Body = &reportingBody{ReadCloser: resp.Body, a: a, isFailure: t.c.cfg.isFailure}
	return resp, nil
}

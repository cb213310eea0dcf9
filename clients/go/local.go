package breakerbox

import (
	"sync"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// localState is what this process knows without asking the service: which
// circuits are known OPEN (from a denial's retry_after), whether the service
// is known down (the memo), and the fail-open local breakers used meanwhile.
type localState struct {
	mu        sync.Mutex
	now       func() time.Time
	knownOpen map[string]knownOpen
	downUntil time.Time
	breakers  map[string]*localBreaker
	threshold int
	openFor   time.Duration
	failFast  bool // remember denials (WithLocalFailFast)
}

// knownOpen is a denial remembered until the service said to ask again.
type knownOpen struct {
	until  time.Time
	state  breakerboxv1.State
	reason breakerboxv1.DenyReason
}

func newLocalState(cfg *config) *localState {
	return &localState{
		now:       cfg.now,
		knownOpen: map[string]knownOpen{},
		breakers:  map[string]*localBreaker{},
		threshold: max(cfg.localThreshold, 1),
		openFor:   cfg.localOpenFor,
		failFast:  cfg.localFailFast,
	}
}

// rememberDenial keeps a denial with a positive retry_after, so calls until
// then fail fast without an RPC. A denial without one (FORCED_OPEN, probes
// out) is not remembered: only the service knows when it ends.
func (l *localState) rememberDenial(circuit string, d *OpenError) {
	if d.RetryAfter <= 0 || !l.failFast {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.knownOpen[circuit] = knownOpen{until: l.now().Add(d.RetryAfter), state: d.State, reason: d.Reason}
}

// knownOpenError is the local denial for a circuit known OPEN now, or nil.
func (l *localState) knownOpenError(circuit string) *OpenError {
	l.mu.Lock()
	defer l.mu.Unlock()
	k, ok := l.knownOpen[circuit]
	if !ok {
		return nil
	}
	now := l.now()
	if !now.Before(k.until) {
		delete(l.knownOpen, circuit)
		return nil
	}
	return &OpenError{Circuit: circuit, State: k.state, Reason: k.reason, RetryAfter: k.until.Sub(now), Local: true}
}

// serviceDown reports whether the memo says the service is unreachable now.
func (l *localState) serviceDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now().Before(l.downUntil)
}

// markDown starts (or extends) the memo: for retry, or longer when the
// service's RetryInfo asked (STORE_UNAVAILABLE, SHUTTING_DOWN).
func (l *localState) markDown(retry, asked time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.downUntil = l.now().Add(max(retry, asked))
}

// markUp ends the memo after the service answered: the service is the truth
// again, so the local breakers are dropped.
func (l *localState) markUp() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.downUntil.IsZero() {
		l.downUntil = time.Time{}
		clear(l.breakers)
	}
}

// admitLocally is the fail-open admission: circuit's local breaker, created
// CLOSED on first use. It returns the breaker to record the outcome on, or
// the denial.
func (l *localState) admitLocally(circuit string) (*localBreaker, *OpenError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.breakers[circuit]
	if !ok {
		b = &localBreaker{}
		l.breakers[circuit] = b
	}
	now := l.now()
	switch {
	case now.Before(b.openUntil):
		return nil, &OpenError{Circuit: circuit, State: breakerboxv1.State_STATE_OPEN, RetryAfter: b.openUntil.Sub(now), Local: true}
	case !b.openUntil.IsZero() && b.probing:
		return nil, &OpenError{Circuit: circuit, State: breakerboxv1.State_STATE_HALF_OPEN, Local: true}
	case !b.openUntil.IsZero():
		b.probing = true
	}
	return b, nil
}

// recordLocally applies an outcome to a local breaker, unless the service
// came back meanwhile (the breaker was dropped).
func (l *localState) recordLocally(circuit string, b *localBreaker, outcome breakerboxv1.Outcome, hint time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.breakers[circuit] != b {
		return
	}
	halfOpen := !b.openUntil.IsZero()
	switch outcome {
	case breakerboxv1.Outcome_OUTCOME_SUCCESS:
		*b = localBreaker{}
	case breakerboxv1.Outcome_OUTCOME_FAILURE, breakerboxv1.Outcome_OUTCOME_TIMEOUT:
		b.failures++
		if halfOpen || b.failures >= l.threshold {
			*b = localBreaker{openUntil: l.now().Add(max(l.openFor, hint))}
		}
	default:
		b.probing = false
	}
}

// localBreaker is a minimal consecutive-failures breaker: CLOSED while
// openUntil is zero; OPEN until openUntil; then HALF_OPEN with one probe.
type localBreaker struct {
	failures  int
	openUntil time.Time
	probing   bool
}

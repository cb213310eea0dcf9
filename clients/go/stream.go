package breakerbox

import (
	"context"
	"io"
	"sync"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// RunStream guards a streamed call, whose outcome is known only when the
// stream ends: open starts it (a model's token stream, a download) and the
// reader RunStream returns reports the call once, when the stream is read
// to its end (SUCCESS), when a Read fails (the error classified like Run's,
// so a stream that breaks midway counts as a failure), or when it is closed
// first (SUCCESS). The caller must Close it.
//
// Admission is Run's: a denied call returns the *OpenError without calling
// open. An error of open is classified, reported and returned, and no
// reader. The stream's context is ctx, bounded by WithCallTimeout from open
// until the stream is reported; reading never waits for the Report.
func (c *Client) RunStream(ctx context.Context, circuit string, open func(context.Context) (io.ReadCloser, error)) (io.ReadCloser, error) {
	a, err := c.admit(ctx, circuit)
	if err != nil {
		return nil, err
	}
	streamCtx, cancel := ctx, context.CancelFunc(func() {})
	if c.cfg.callTimeout > 0 {
		streamCtx, cancel = context.WithTimeout(ctx, c.cfg.callTimeout)
	}
	body, err := open(streamCtx)
	if err != nil {
		cancel()
		a.report(Classify(err, c.cfg.isFailure), RetryAfterHint(err))
		return nil, err
	}
	return &reportingBody{ReadCloser: body, a: a, isFailure: c.cfg.isFailure, release: cancel}, nil
}

// reportingBody reports its call once: at EOF, on a read error, or at Close.
type reportingBody struct {
	io.ReadCloser
	a         *admission
	isFailure func(error) bool
	release   func() // ends the stream's call timeout; nil when there is none
	once      sync.Once
}

func (b *reportingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.done(breakerboxv1.Outcome_OUTCOME_SUCCESS, 0)
	case err != nil:
		b.done(Classify(err, b.isFailure), RetryAfterHint(err))
	}
	return n, err
}

func (b *reportingBody) Close() error {
	err := b.ReadCloser.Close()
	b.done(breakerboxv1.Outcome_OUTCOME_SUCCESS, 0)
	return err
}

func (b *reportingBody) done(outcome breakerboxv1.Outcome, hint time.Duration) {
	b.once.Do(func() {
		b.a.report(outcome, hint)
		if b.release != nil {
			b.release()
		}
	})
}

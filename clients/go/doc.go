// Package breakerbox guards calls to dependencies with Breakerbox, the shared
// circuit-breaker service: Run asks the service for a permit (Acquire), calls
// the function when allowed and hands its outcome to a background reporter
// (BatchReport), so the caller never waits for the Report.
//
//	bb, err := breakerbox.New("localhost:50051")
//	defer bb.Close()
//	err = bb.Run(ctx, "llm.openai", func(ctx context.Context) error { return callModel(ctx) })
//
// A denied call returns an *OpenError (errors.Is(err, ErrOpen)) without
// calling fn. Transport guards outgoing HTTP requests the same way, and
// RunStream a stream, reported when it ends. The
// client follows docs/clients.md: errors are acted on by their ErrorInfo
// reason and RetryInfo, a circuit known OPEN fails fast locally, and an
// unreachable service is handled by the fail-open or fail-closed policy with
// a "service down" memo.
package breakerbox

package breakerbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
)

// tlsServer is the wrapper's third server, serving TLS with a certificate of
// a test CA, and that CA's PEM file.
func tlsServer(t *testing.T) (addr string, roots *x509.CertPool) {
	t.Helper()
	addr, caFile := os.Getenv("BREAKERBOX_TEST_TLS_ADDRESS"), os.Getenv("BREAKERBOX_TEST_TLS_CA")
	if addr == "" || caFile == "" {
		t.Skip("BREAKERBOX_TEST_TLS_ADDRESS / BREAKERBOX_TEST_TLS_CA are not set: run through test/e2e/client-go.test.ts")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return addr, roots
}

func TestWithTLSTalksToATLSServer(t *testing.T) {
	addr, roots := tlsServer(t)
	circuit := circuitFor(t, "a")
	c := newClient(t, addr, WithTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	if err := c.Run(context.Background(), circuit, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("Run over TLS: %v", err)
	}
	flush(t, c)
	// Admitted and reported by the service itself (read back over the same TLS
	// connection), not by the fail-open local breaker.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.API().GetState(ctx, &breakerboxv1.GetStateRequest{Circuit: circuit})
	if err != nil || countsOf(resp.GetStatus()) != (counts{successes: 1}) || c.local.serviceDown() {
		t.Fatalf("GetState over TLS: %v %v (service down: %v), want 1 success", resp, err, c.local.serviceDown())
	}
}

func TestWithoutWithTLSTheClientSpeaksPlaintext(t *testing.T) {
	addr, _ := tlsServer(t)
	// A plaintext client's HTTP/2 preface is no TLS handshake: the server
	// drops the connection, the Acquire fails UNAVAILABLE, and fail closed
	// refuses the call without running it.
	plain := newClient(t, addr, WithPolicy(FailClosed), WithRPCTimeout(10*time.Second))
	err := plain.Run(context.Background(), circuitFor(t, "plain"), func(context.Context) error {
		t.Error("fn called although Breakerbox could not be reached")
		return nil
	})
	if !errors.Is(err, ErrServiceUnavailable) || !plain.local.serviceDown() {
		t.Fatalf("plaintext to a TLS server: got %v (memo: %v), want ErrServiceUnavailable and the service-down memo", err, plain.local.serviceDown())
	}

	// TLS that does not trust the server's CA (the system roots) is refused the same way: the certificate is verified.
	untrusted := newClient(t, addr, WithTLS(nil), WithPolicy(FailClosed), WithRPCTimeout(10*time.Second))
	if err := untrusted.Run(context.Background(), circuitFor(t, "untrusted"), func(context.Context) error {
		t.Error("fn called over an unverified connection")
		return nil
	}); !errors.Is(err, ErrServiceUnavailable) {
		t.Fatalf("TLS without the test CA: got %v, want ErrServiceUnavailable", err)
	}
}

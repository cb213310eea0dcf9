package breakerbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	breakerbox "github.com/breakerbox/breakerbox/clients/go"
)

func callModel(context.Context) error { return nil }

// The README's three lines (compiled, not run: it needs a server).
func ExampleClient_Run() {
	ctx := context.Background()
	bb, err := breakerbox.New("localhost:50051")
	if err != nil {
		panic(err)
	}
	defer bb.Close()
	err = bb.Run(ctx, "llm.openai", func(ctx context.Context) error { return callModel(ctx) })
	var open *breakerbox.OpenError
	if errors.As(err, &open) {
		fmt.Println("circuit open, retry in", open.RetryAfter)
	}
}

// The README's guarded http.Client.
func ExampleClient_Transport() {
	bb, err := breakerbox.New("localhost:50051")
	if err != nil {
		panic(err)
	}
	defer bb.Close()
	hc := &http.Client{Transport: bb.Transport(nil, func(r *http.Request) string { return "llm." + r.URL.Host })}
	_ = hc
}

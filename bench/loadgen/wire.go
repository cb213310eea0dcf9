package main

import (
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec sends and receives message bytes as they are: requests are
// *[]byte built with protowire, responses land in a *[]byte. Its name is
// "proto", so the content-type is application/grpc+proto, which any gRPC
// server accepts.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	// Reuse the caller's buffer: the response is read before the next call.
	out := (*b)[:0]
	for _, buf := range data {
		out = append(out, buf.ReadOnlyData()...)
	}
	*b = out
	return nil
}

// Field numbers from proto/breakerbox/v1/breakerbox.proto.
const (
	acquireRequestCircuit = 1

	acquireResponseAllowed = 1
	acquireResponsePermit  = 2

	reportRequestCircuit  = 1
	reportRequestPermit   = 2
	reportRequestOutcome  = 3
	reportRequestDuration = 4

	reportResponseDuplicate = 2

	outcomeSuccess = 1

	durationNanos = 2
)

// reportDurationNanos is the call duration every Report carries: 12 ms, a
// fast success (slow-call detection is off by default anyway).
const reportDurationNanos = 12_000_000

// appendAcquireRequest encodes AcquireRequest{circuit}.
func appendAcquireRequest(b []byte, circuit []byte) []byte {
	b = protowire.AppendTag(b, acquireRequestCircuit, protowire.BytesType)
	return protowire.AppendBytes(b, circuit)
}

// appendReportRequest encodes ReportRequest{circuit, permit, outcome: SUCCESS,
// duration: {nanos: 12 ms}}.
func appendReportRequest(b []byte, circuit, permit []byte) []byte {
	b = protowire.AppendTag(b, reportRequestCircuit, protowire.BytesType)
	b = protowire.AppendBytes(b, circuit)
	b = protowire.AppendTag(b, reportRequestPermit, protowire.BytesType)
	b = protowire.AppendBytes(b, permit)
	b = protowire.AppendTag(b, reportRequestOutcome, protowire.VarintType)
	b = protowire.AppendVarint(b, outcomeSuccess)
	var d [8]byte
	dur := protowire.AppendTag(d[:0], durationNanos, protowire.VarintType)
	dur = protowire.AppendVarint(dur, reportDurationNanos)
	b = protowire.AppendTag(b, reportRequestDuration, protowire.BytesType)
	return protowire.AppendBytes(b, dur)
}

// parseAcquireResponse returns allowed and the permit (a fresh copy, safe to
// keep after the response buffer is reused).
func parseAcquireResponse(b []byte) (allowed bool, permit []byte) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, nil
		}
		b = b[n:]
		switch {
		case num == acquireResponseAllowed && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false, nil
			}
			allowed = v != 0
			b = b[m:]
		case num == acquireResponsePermit && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return false, nil
			}
			permit = append([]byte(nil), v...)
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return false, nil
			}
			b = b[m:]
		}
	}
	return allowed, permit
}

// parseReportDuplicate returns ReportResponse.duplicate.
func parseReportDuplicate(b []byte) bool {
	dup := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == reportResponseDuplicate && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false
			}
			dup = v != 0
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return dup
}

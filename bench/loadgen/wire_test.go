package main

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestAcquireRequestEncoding(t *testing.T) {
	got := appendAcquireRequest(nil, []byte("bench.c007"))
	want := append([]byte{0x0a, 10}, "bench.c007"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("AcquireRequest = %x, want %x", got, want)
	}
}

func TestReportRequestEncoding(t *testing.T) {
	b := appendReportRequest(nil, []byte("c"), []byte("p1"))
	fields := map[protowire.Number][]byte{}
	var outcome uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			fields[num] = v
			b = b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if num != reportRequestOutcome {
				t.Fatalf("unexpected varint field %d", num)
			}
			outcome = v
			b = b[m:]
		default:
			t.Fatalf("unexpected wire type %d", typ)
		}
	}
	if string(fields[reportRequestCircuit]) != "c" || string(fields[reportRequestPermit]) != "p1" || outcome != outcomeSuccess {
		t.Fatalf("fields = %q, outcome %d", fields, outcome)
	}
	dur := fields[reportRequestDuration]
	num, typ, n := protowire.ConsumeTag(dur)
	v, _ := protowire.ConsumeVarint(dur[n:])
	if num != durationNanos || typ != protowire.VarintType || v != reportDurationNanos {
		t.Fatalf("duration = %x", dur)
	}
}

func TestParseResponses(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, acquireResponseAllowed, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	b = protowire.AppendTag(b, acquireResponsePermit, protowire.BytesType)
	b = protowire.AppendString(b, "abc.0.c.x.1")
	b = protowire.AppendTag(b, 3, protowire.VarintType) // state, skipped
	b = protowire.AppendVarint(b, 1)
	ok, permit := parseAcquireResponse(b)
	if !ok || string(permit) != "abc.0.c.x.1" {
		t.Fatalf("parseAcquireResponse = %v %q", ok, permit)
	}
	b[len(b)-1] = 9 // the permit is a copy, not a view of the buffer
	if string(permit) != "abc.0.c.x.1" {
		t.Fatal("permit aliases the response buffer")
	}
	if ok, _ := parseAcquireResponse(nil); ok {
		t.Fatal("empty AcquireResponse parsed as allowed")
	}

	var r []byte
	r = protowire.AppendTag(r, 1, protowire.VarintType)
	r = protowire.AppendVarint(r, 1)
	r = protowire.AppendTag(r, reportResponseDuplicate, protowire.VarintType)
	r = protowire.AppendVarint(r, 1)
	if !parseReportDuplicate(r) || parseReportDuplicate(r[:2]) {
		t.Fatal("parseReportDuplicate")
	}
}

func TestPercentile(t *testing.T) {
	s := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 5}, {0.9, 9}, {0.99, 10}, {0.01, 1}, {1, 10}} {
		if got := percentile(s, c.q); got != c.want {
			t.Errorf("percentile(%v) = %d, want %d", c.q, got, c.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of empty sample")
	}
}

func TestSummarizeCountsOnlyTheWindow(t *testing.T) {
	w := &worker{samples: []sample{{end: 5, lat: 1}, {end: 10, lat: 2}, {end: 15, lat: 3}, {end: 20, lat: 4}}}
	res := &Result{RPCsPerOp: 2}
	summarize(res, []*worker{w}, 10, 20)
	if res.Ops != 2 || res.P50Ms != ms(2) || res.MaxMs != ms(3) {
		t.Fatalf("ops %d p50 %v max %v", res.Ops, res.P50Ms, res.MaxMs)
	}
}

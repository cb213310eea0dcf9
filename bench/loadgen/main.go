// Command loadgen is Breakerbox's closed-loop gRPC load generator.
//
// It opens C HTTP/2 connections and runs N workers on each; a worker issues
// its next call as soon as the previous one completes. After a warm-up it
// measures for a fixed duration and prints one JSON line: calls per second,
// latency percentiles and errors. Messages are encoded by hand with protowire
// and sent through a raw-bytes codec, so no generated stubs are needed and the
// client spends as little CPU per call as possible: run it with GOMAXPROCS=1
// on the core the server does not use, so it measures the server, not itself.
//
// Scenarios:
//
//	noop            breakerbox.bench.v1.Noop/Ping with an AcquireRequest body:
//	                the grpc-js stack's ceiling on the same server
//	noop-async      the same, answered by an async handler (one promise hop)
//	noop-acquire-reply  the same (sync), answering an AcquireResponse like an
//	                allowed Acquire's: separates the reply's cost from the
//	                service, store and engine
//	acquire         CircuitService/Acquire over -circuits names (all CLOSED)
//	report          CircuitService/Report SUCCESS, each with a fresh permit
//	                acquired before the warm-up (the pool), never reused
//	acquire+report  one op = Acquire, then Report of its permit
//
// One scenario per run; bench/run.mjs runs them all against one server.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const (
	methodPing      = "/breakerbox.bench.v1.Noop/Ping"
	methodPingAsync = "/breakerbox.bench.v1.Noop/PingAsync"
	methodPingReply = "/breakerbox.bench.v1.Noop/PingAcquireReply"
	methodAcquire   = "/breakerbox.v1.CircuitService/Acquire"
	methodReport    = "/breakerbox.v1.CircuitService/Report"
)

type options struct {
	addr          string
	scenario      string
	conns         int
	workers       int
	warmup        time.Duration
	duration      time.Duration
	circuits      int
	circuitPrefix string
	poolFactor    float64
	poolRate      float64
	timeout       time.Duration
	serverPids    []int
	auxPids       []int
	bdp           bool
}

// Result is the JSON line printed for one scenario.
type Result struct {
	Scenario string `json:"scenario"`
	// Unit is "rpc" or, for acquire+report, "op" (one op = 2 RPCs).
	Unit        string         `json:"unit"`
	RPCsPerOp   int            `json:"rpcs_per_op"`
	Conns       int            `json:"conns"`
	Workers     int            `json:"workers_per_conn"`
	InFlight    int            `json:"in_flight"`
	WarmupS     float64        `json:"warmup_s"`
	DurationS   float64        `json:"duration_s"`
	MeasuredS   float64        `json:"measured_s"`
	Ops         int            `json:"ops"`
	OpsPerSec   float64        `json:"ops_per_s"`
	RPCsPerSec  float64        `json:"rpc_per_s"`
	P50Ms       float64        `json:"p50_ms"`
	P90Ms       float64        `json:"p90_ms"`
	P99Ms       float64        `json:"p99_ms"`
	P999Ms      float64        `json:"p999_ms"`
	MaxMs       float64        `json:"max_ms"`
	MeanMs      float64        `json:"mean_ms"`
	Errors      int            `json:"errors"`
	ErrorCodes  map[string]int `json:"error_codes,omitempty"`
	FirstError  string         `json:"first_error,omitempty"`
	Denied      int            `json:"denied"`
	Duplicates  int            `json:"duplicates"`
	PoolSize    int            `json:"pool_size,omitempty"`
	PoolSeconds float64        `json:"pool_fill_s,omitempty"`
	PoolRanDry  bool           `json:"pool_ran_dry,omitempty"`
	// CPU used over the measured window, in cores: the server's (with
	// -server-pid) and this load generator's own.
	// With several servers (-addr list, -server-pid list) ServerCPU is their sum.
	Servers    int     `json:"servers"`
	ServerCPU  float64 `json:"server_cpu,omitempty"`
	LoadgenCPU float64 `json:"loadgen_cpu"`
	// Cores used by the -aux-pid processes (e.g. redis-server).
	AuxCPU float64 `json:"aux_cpu,omitempty"`
	// Cores used by everything else on the machine (all processes minus the
	// server and this load generator; includes kernel work): above ~0.1 the
	// run was disturbed and its numbers are low and noisy.
	OtherCPU float64 `json:"other_cpu"`
	// The server's read and write system calls per RPC over the window (from
	// /proc/<pid>/io): how well the server batched. Fewer is cheaper.
	ServerReadsPerRPC  float64 `json:"server_reads_per_rpc,omitempty"`
	ServerWritesPerRPC float64 `json:"server_writes_per_rpc,omitempty"`
	GoMaxProcs         int     `json:"gomaxprocs"`
	GoVersion          string  `json:"go_version"`
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:50051", "server host:port, or a comma-separated list (replicas): connection i goes to address i mod n")
	flag.StringVar(&o.scenario, "scenario", "noop", "noop | noop-async | noop-acquire-reply | acquire | report | acquire+report")
	flag.IntVar(&o.conns, "conns", 4, "HTTP/2 connections")
	flag.IntVar(&o.workers, "workers", 16, "concurrent closed-loop workers per connection")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before measuring")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration")
	flag.IntVar(&o.circuits, "circuits", 100, "distinct circuit names")
	flag.StringVar(&o.circuitPrefix, "circuit-prefix", "bench.c", "circuit name prefix (name = prefix + index)")
	flag.Float64Var(&o.poolFactor, "pool-factor", 1.5, "report: pool = expected calls in warm-up+duration × this")
	flag.Float64Var(&o.poolRate, "pool-rate", 0, "report: expected Report calls/s to size the pool (0: measure Acquire while filling)")
	flag.DurationVar(&o.timeout, "timeout", 0, "per-call deadline, sent as grpc-timeout (0: none; calls still end when the run does)")
	flag.BoolVar(&o.bdp, "bdp", false, "let grpc-go size flow-control windows by BDP estimation (extra PINGs the server must answer); default: fixed 4 MiB stream / 16 MiB connection windows")
	var serverPids, auxPids string
	flag.StringVar(&serverPids, "server-pid", "", "pid of the server, or comma-separated pids of the replicas, to report their CPU use (summed) over the measured window (Linux)")
	flag.StringVar(&auxPids, "aux-pid", "", "comma-separated pids of helper processes (e.g. redis-server): their CPU is reported as aux_cpu and not counted as other processes'")
	flag.Parse()
	var err error
	if o.serverPids, err = parsePids(serverPids); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: -server-pid:", err)
		os.Exit(2)
	}
	if o.auxPids, err = parsePids(auxPids); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: -aux-pid:", err)
		os.Exit(2)
	}

	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
}

// worker state: everything a worker touches in the hot loop is its own.
type worker struct {
	conn    *grpc.ClientConn
	seq     int
	samples []sample
	errs    int
	codes   map[string]int
	first   string
	denied  int
	dup     int
	reqBuf  []byte
	req2Buf []byte
	resp    []byte
}

// sample is one completed call: when it ended (ns since the run started) and
// how long it took (ns).
type sample struct {
	end int64
	lat int64
}

type pooled struct {
	circuit int
	permit  []byte
}

// permitPool holds the report scenario's permits in the order they were
// acquired; workers take them first-acquired first, so every permit is about
// equally old when reported (permits expire after permit_ttl, 30 s).
type permitPool struct {
	permits []pooled
	next    atomic.Int64
}

func (p *permitPool) take() (pooled, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.permits)) {
		return pooled{}, false
	}
	return p.permits[i], true
}

var errPoolDry = errors.New("permit pool ran dry")

// runCtx ends every call still running a minute after the run should have
// ended, so a stalled server cannot hang the load generator.
var runCtx context.Context

func nop() {}

// callContext is the context of one call: with -timeout, a deadline (sent to
// the server as grpc-timeout, which costs it a timer per call); without, the
// run's context and no per-call cost.
func callContext(o options) (context.Context, context.CancelFunc) {
	if o.timeout > 0 {
		return context.WithTimeout(runCtx, o.timeout)
	}
	return runCtx, nop
}

func run(o options) (*Result, error) {
	if o.conns < 1 || o.workers < 1 || o.circuits < 1 || o.duration <= 0 || o.warmup < 0 {
		return nil, errors.New("conns, workers, circuits and duration must be positive, warmup not negative")
	}
	switch o.scenario {
	case "noop", "noop-async", "noop-acquire-reply", "acquire", "report", "acquire+report":
	default:
		return nil, fmt.Errorf("unknown scenario %q", o.scenario)
	}
	var cancelRun context.CancelFunc
	runCtx, cancelRun = context.WithTimeout(context.Background(), 5*time.Minute+2*(o.warmup+o.duration))
	defer cancelRun()
	names := make([][]byte, o.circuits)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("%s%03d", o.circuitPrefix, i))
	}

	// One ClientConn is one HTTP/2 connection; with several addresses
	// (replicas), connection i goes to address i mod n.
	addrs := splitList(o.addr)
	if len(addrs) == 0 {
		return nil, errors.New("-addr is empty")
	}
	conns := make([]*grpc.ClientConn, o.conns)
	connAddr := make([]string, o.conns)
	for i := range conns {
		dialOpts := []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})),
		}
		if !o.bdp {
			// Setting the windows turns off BDP estimation and its PINGs.
			dialOpts = append(dialOpts, grpc.WithInitialWindowSize(4<<20), grpc.WithInitialConnWindowSize(16<<20))
		}
		connAddr[i] = addrs[i%len(addrs)]
		c, err := grpc.NewClient("passthrough:///"+connAddr[i], dialOpts...)
		if err != nil {
			return nil, err
		}
		c.Connect()
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()

	workers := make([]*worker, 0, o.conns*o.workers)
	for _, c := range conns {
		for w := 0; w < o.workers; w++ {
			id := len(workers)
			workers = append(workers, &worker{conn: c, seq: id, codes: map[string]int{}})
		}
	}

	// Every connection answers before anything is timed.
	for ci, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var resp []byte
		req := appendAcquireRequest(nil, names[0])
		method := methodAcquire
		if strings.HasPrefix(o.scenario, "noop") {
			method = methodPing
		}
		err := c.Invoke(ctx, method, &req, &resp, grpc.WaitForReady(true))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("first call to %s on %s failed: %w", method, connAddr[ci], err)
		}
	}

	res := &Result{
		Scenario:   o.scenario,
		Unit:       "rpc",
		RPCsPerOp:  1,
		Conns:      o.conns,
		Workers:    o.workers,
		InFlight:   o.conns * o.workers,
		WarmupS:    o.warmup.Seconds(),
		DurationS:  o.duration.Seconds(),
		GoMaxProcs: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
	}
	if o.scenario == "acquire+report" {
		res.Unit = "op"
		res.RPCsPerOp = 2
	}

	var pool *permitPool
	if o.scenario == "report" {
		var err error
		if pool, err = fillPool(o, workers, names, res); err != nil {
			return nil, err
		}
	}

	var call func(w *worker, ctx context.Context) error
	switch o.scenario {
	case "noop", "noop-async", "noop-acquire-reply":
		method := map[string]string{"noop": methodPing, "noop-async": methodPingAsync, "noop-acquire-reply": methodPingReply}[o.scenario]
		call = func(w *worker, ctx context.Context) error {
			w.reqBuf = appendAcquireRequest(w.reqBuf[:0], names[w.seq%len(names)])
			w.seq++
			return w.conn.Invoke(ctx, method, &w.reqBuf, &w.resp)
		}
	case "acquire":
		call = func(w *worker, ctx context.Context) error {
			w.reqBuf = appendAcquireRequest(w.reqBuf[:0], names[w.seq%len(names)])
			w.seq++
			if err := w.conn.Invoke(ctx, methodAcquire, &w.reqBuf, &w.resp); err != nil {
				return err
			}
			if ok, _ := parseAcquireResponse(w.resp); !ok {
				w.denied++
			}
			return nil
		}
	case "report":
		call = func(w *worker, ctx context.Context) error {
			p, ok := pool.take()
			if !ok {
				return errPoolDry
			}
			w.reqBuf = appendReportRequest(w.reqBuf[:0], names[p.circuit], p.permit)
			if err := w.conn.Invoke(ctx, methodReport, &w.reqBuf, &w.resp); err != nil {
				return err
			}
			if parseReportDuplicate(w.resp) {
				w.dup++
			}
			return nil
		}
	case "acquire+report":
		call = func(w *worker, ctx context.Context) error {
			name := names[w.seq%len(names)]
			w.seq++
			w.reqBuf = appendAcquireRequest(w.reqBuf[:0], name)
			if err := w.conn.Invoke(ctx, methodAcquire, &w.reqBuf, &w.resp); err != nil {
				return err
			}
			ok, permit := parseAcquireResponse(w.resp)
			if !ok {
				w.denied++
				return nil
			}
			w.req2Buf = appendReportRequest(w.req2Buf[:0], name, permit)
			if err := w.conn.Invoke(ctx, methodReport, &w.req2Buf, &w.resp); err != nil {
				return err
			}
			if parseReportDuplicate(w.resp) {
				w.dup++
			}
			return nil
		}
	}

	meter := &cpuMeter{serverPids: o.serverPids, auxPids: o.auxPids}
	from, to := drive(o, workers, call, 20_000, meter)
	summarize(res, workers, from, to)
	res.Servers = len(addrs)
	res.ServerCPU, res.LoadgenCPU, res.AuxCPU = meter.serverShare, meter.selfShare, meter.auxShare
	if meter.machineShare >= 0 && len(o.serverPids) > 0 {
		res.OtherCPU = round3(max(0, meter.machineShare-meter.serverShare-meter.selfShare-meter.auxShare))
	}
	if rpcs := res.Ops * res.RPCsPerOp; rpcs > 0 && meter.srvReads >= 0 {
		res.ServerReadsPerRPC = round3(float64(meter.srvReads) / float64(rpcs))
		res.ServerWritesPerRPC = round3(float64(meter.srvWrites) / float64(rpcs))
	}
	if pool != nil && to < int64(o.warmup+o.duration) {
		res.PoolRanDry = true
	}
	return res, nil
}

// fillPool acquires the report scenario's permits with all workers, spread
// over the circuits, before the warm-up. Its size is the Report calls expected
// in warm-up + duration, times -pool-factor; the expected rate is -pool-rate,
// or else the Acquire rate measured during the first second of filling.
func fillPool(o options, workers []*worker, names [][]byte, res *Result) (*permitPool, error) {
	var claimed atomic.Int64
	var target atomic.Int64
	const unbounded = int64(1) << 62
	target.Store(unbounded)
	if o.poolRate > 0 {
		target.Store(int64(o.poolRate * (o.warmup + o.duration).Seconds() * o.poolFactor))
	}
	type got struct {
		idx int64
		p   pooled
	}
	per := make([][]got, len(workers))
	var failed atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for wi, w := range workers {
		wg.Add(1)
		go func(wi int, w *worker) {
			defer wg.Done()
			var resp []byte
			var req []byte
			for {
				idx := claimed.Add(1) - 1
				if idx >= target.Load() {
					return
				}
				ci := int(idx % int64(len(names)))
				req = appendAcquireRequest(req[:0], names[ci])
				ctx, cancel := callContext(o)
				err := w.conn.Invoke(ctx, methodAcquire, &req, &resp)
				cancel()
				if err != nil {
					failed.CompareAndSwap(nil, err)
					target.Store(0)
					return
				}
				ok, permit := parseAcquireResponse(resp)
				if !ok {
					failed.CompareAndSwap(nil, fmt.Errorf("filling the permit pool: Acquire(%s) was denied", names[ci]))
					target.Store(0)
					return
				}
				per[wi] = append(per[wi], got{idx, pooled{ci, permit}})
			}
		}(wi, w)
	}
	if o.poolRate <= 0 {
		time.Sleep(time.Second)
		rate := float64(claimed.Load()) / time.Since(start).Seconds()
		target.CompareAndSwap(unbounded, int64(rate*(o.warmup+o.duration).Seconds()*o.poolFactor))
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, err
	}
	n := 0
	for _, g := range per {
		n += len(g)
	}
	pool := &permitPool{permits: make([]pooled, n)}
	// Claimed indexes are dense below n except for the slots of calls that
	// were claimed but not made (idx >= target); order by index.
	all := make([]got, 0, n)
	for _, g := range per {
		all = append(all, g...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].idx < all[j].idx })
	for i, g := range all {
		pool.permits[i] = g.p
	}
	res.PoolSize = n
	res.PoolSeconds = round1(time.Since(start).Seconds())
	return pool, nil
}

// drive runs the closed loop: every worker calls again as soon as its call
// completes, from the start through warm-up to the end of the measured
// window. A call counts when it completes inside the window. It returns the
// window as ns offsets from the start; the window ends early when the report
// scenario's pool runs dry (at the first worker that found it empty, while
// all the others were still busy).
func drive(o options, workers []*worker, call func(*worker, context.Context) error, expectedRate int, meter *cpuMeter) (from, to int64) {
	start := time.Now()
	from = int64(o.warmup)
	to = int64(o.warmup + o.duration)
	expected := int(o.duration.Seconds()*float64(expectedRate)/float64(len(workers))) + 16
	var dryAt atomic.Int64
	dryAt.Store(to)
	var wg sync.WaitGroup
	meterDone := make(chan struct{})
	go func() {
		defer close(meterDone)
		time.Sleep(time.Until(start.Add(time.Duration(from))))
		meter.begin()
		// Ends at the window's end, or a little after the pool ran dry.
		for {
			now := int64(time.Since(start))
			end := dryAt.Load()
			if now >= end {
				break
			}
			time.Sleep(min(time.Duration(end-now), 50*time.Millisecond))
		}
		meter.end()
	}()
	for _, w := range workers {
		w.samples = make([]sample, 0, expected)
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for {
				t0 := int64(time.Since(start))
				if t0 >= dryAt.Load() {
					return
				}
				ctx, cancel := callContext(o)
				err := call(w, ctx)
				cancel()
				t1 := int64(time.Since(start))
				if errors.Is(err, errPoolDry) {
					for {
						prev := dryAt.Load()
						if prev <= t1 || dryAt.CompareAndSwap(prev, t1) {
							break
						}
					}
					return
				}
				if t1 < from || t1 >= to {
					continue
				}
				if err != nil {
					w.errs++
					code := status.Code(err)
					w.codes[code.String()]++
					if w.first == "" {
						w.first = err.Error()
					}
					if code == codes.Unavailable {
						time.Sleep(10 * time.Millisecond) // do not spin on a dead server
					}
					continue
				}
				w.samples = append(w.samples, sample{end: t1, lat: t1 - t0})
			}
		}(w)
	}
	wg.Wait()
	<-meterDone
	if d := dryAt.Load(); d < to {
		to = max(d, from)
	}
	return from, to
}

func summarize(res *Result, workers []*worker, from, to int64) {
	var lat []int64
	codesAll := map[string]int{}
	for _, w := range workers {
		for _, s := range w.samples {
			if s.end >= from && s.end < to {
				lat = append(lat, s.lat)
			}
		}
		res.Errors += w.errs
		res.Denied += w.denied
		res.Duplicates += w.dup
		for k, v := range w.codes {
			codesAll[k] += v
		}
		if res.FirstError == "" && w.first != "" {
			res.FirstError = w.first
		}
	}
	if len(codesAll) > 0 {
		res.ErrorCodes = codesAll
	}
	measured := time.Duration(to - from)
	res.MeasuredS = round3(measured.Seconds())
	res.Ops = len(lat)
	if measured > 0 {
		res.OpsPerSec = round1(float64(res.Ops) / measured.Seconds())
		res.RPCsPerSec = round1(float64(res.Ops*res.RPCsPerOp) / measured.Seconds())
	}
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum int64
	for _, d := range lat {
		sum += d
	}
	res.P50Ms = ms(percentile(lat, 0.50))
	res.P90Ms = ms(percentile(lat, 0.90))
	res.P99Ms = ms(percentile(lat, 0.99))
	res.P999Ms = ms(percentile(lat, 0.999))
	res.MaxMs = ms(lat[len(lat)-1])
	res.MeanMs = ms(sum / int64(len(lat)))
}

// percentile of an ascending sample, nearest-rank: the smallest value with at
// least q of the sample at or below it.
func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(ns int64) float64 { return round3(float64(ns) / 1e6) }

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// splitList splits a comma-separated list, dropping blanks.
func splitList(text string) []string {
	var out []string
	for _, part := range strings.Split(text, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parsePids parses a comma-separated list of positive pids ("" or "0": none).
func parsePids(text string) ([]int, error) {
	var out []int
	for _, part := range splitList(text) {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad pid %q", part)
		}
		if n > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

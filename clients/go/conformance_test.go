package breakerbox

// The conformance player: clients/conformance/scenarios.yaml, the story every
// Breakerbox client plays, played by this client. The harness
// (clients/conformance/harness.mjs) runs a real server from the repository's
// dist/ behind a forwarder this test turns into outages; the steps are in
// conformance_steps_test.go, the format in clients/conformance/README.md.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	breakerboxv1 "github.com/breakerbox/breakerbox/gen/go/breakerbox/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// harnessReady is the harness's first line.
type harnessReady struct {
	Event     string            `json:"event"`
	Address   string            `json:"address"`
	Direct    string            `json:"direct"`
	ServerEnv map[string]string `json:"server_env"`
	Scenarios []scenario        `json:"scenarios"`
}

type scenario struct {
	Name   string            `json:"name"`
	About  string            `json:"about"`
	Client json.RawMessage   `json:"client"`
	Steps  []json.RawMessage `json:"steps"`
}

// harness is the running harness.mjs: commands go to its stdin, answers come
// back one JSON line each.
type harness struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string
	address string
	direct  string
	api     breakerboxv1.CircuitServiceClient // on direct
	conn    *grpc.ClientConn
	// mode is what the player last made of the client's path ("forward",
	// "blackhole", "killed"), so a scenario that failed midway can be undone.
	mode string
}

// harnessTimeout bounds the harness's start and each command's answer (a
// `start` runs a new server from dist/).
const harnessTimeout = 60 * time.Second

// startHarness runs `node <repo>/clients/conformance/harness.mjs` (node from
// PATH) and waits for its ready line. Without BREAKERBOX_TEST_ADDRESS (a
// plain `go test`, no live servers meant) a harness that cannot start skips
// the test; under test/e2e/client-go.test.ts it fails it.
func startHarness(t *testing.T) (*harness, []scenario) {
	t.Helper()
	fail := t.Fatalf
	if os.Getenv("BREAKERBOX_TEST_ADDRESS") == "" {
		fail = t.Skipf
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(repo, "clients", "conformance", "harness.mjs")
	if _, err := os.Stat(filepath.Join(repo, "dist", "src", "main.js")); err != nil {
		fail("the conformance harness needs the built server: %v (run `npm run build` at %s)", err, repo)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		fail("the conformance harness needs node (24) on PATH: %v", err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = repo
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		fail("starting %s %s: %v", node, script, err)
	}
	h := &harness{cmd: cmd, stdin: stdin, lines: make(chan string, 16), mode: "forward"}
	go func() {
		defer close(h.lines)
		scan := bufio.NewScanner(stdout)
		scan.Buffer(make([]byte, 1<<20), 1<<24) // the ready line holds every scenario
		for scan.Scan() {
			h.lines <- scan.Text()
		}
	}()
	t.Cleanup(h.stop)
	line, err := h.next()
	if err != nil {
		fail("conformance harness (%s %s) did not get ready: %v", node, script, err)
	}
	var ready harnessReady
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.Event != "ready" || len(ready.Scenarios) == 0 {
		t.Fatalf("conformance harness: want its ready line with scenarios, got %q (%v)", line, err)
	}
	h.address = ready.Address
	h.dial(t, ready.Direct)
	return h, ready.Scenarios
}

// next is the harness's next stdout line.
func (h *harness) next() (string, error) {
	select {
	case line, ok := <-h.lines:
		if !ok {
			return "", fmt.Errorf("the harness exited (its stderr is above)")
		}
		return line, nil
	case <-time.After(harnessTimeout):
		return "", fmt.Errorf("no answer within %s", harnessTimeout)
	}
}

// dial points the player's own client (GetState, ForceState) at the server itself.
func (h *harness) dial(t *testing.T, direct string) {
	t.Helper()
	if h.conn != nil {
		_ = h.conn.Close()
	}
	conn, err := grpc.NewClient(direct, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial the harness's server at %s: %v", direct, err)
	}
	h.direct, h.conn, h.api = direct, conn, breakerboxv1.NewCircuitServiceClient(conn)
}

// send runs one harness command and waits for its answer.
func (h *harness) send(t *testing.T, command string) {
	t.Helper()
	if _, err := fmt.Fprintln(h.stdin, command); err != nil {
		t.Fatalf("harness %s: %v", command, err)
	}
	line, err := h.next()
	if err != nil {
		t.Fatalf("harness %s: %v", command, err)
	}
	var answer struct {
		OK     string `json:"ok"`
		Error  string `json:"error"`
		Direct string `json:"direct"`
	}
	if err := json.Unmarshal([]byte(line), &answer); err != nil || answer.OK != command {
		t.Fatalf("harness %s: answered %q", command, line)
	}
	switch command {
	case "kill":
		h.mode = "killed"
	case "blackhole":
		h.mode = "blackhole"
	case "start":
		h.mode = "forward"
		h.dial(t, answer.Direct)
	case "restore":
		h.mode = "forward"
	}
}

// heal puts the client's path back after a scenario that stopped midway, so
// the next one starts from a served forwarder.
func (h *harness) heal(t *testing.T) {
	switch h.mode {
	case "killed":
		h.send(t, "start")
	case "blackhole":
		h.send(t, "restore")
	}
}

func (h *harness) stop() {
	_, _ = fmt.Fprintln(h.stdin, "exit")
	_ = h.stdin.Close()
	done := make(chan struct{})
	go func() {
		for range h.lines { // drain, so the harness never blocks on its stdout
		}
		_ = h.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(harnessTimeout):
		_ = h.cmd.Process.Kill()
	}
	if h.conn != nil {
		_ = h.conn.Close()
	}
}

func TestConformance(t *testing.T) {
	h, scenarios := startHarness(t)
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Cleanup(func() { h.heal(t) })
			p := newPlayer(t, h, sc)
			for i, raw := range sc.Steps {
				p.step(i+1, raw)
			}
		})
	}
}

// conformanceCircuit is the scenario's own circuit:
// conformance.<scenario>.go.<random>.
func conformanceCircuit(name string) string {
	return fmt.Sprintf("conformance.%s.go.%08x", name, rand.Uint32())
}

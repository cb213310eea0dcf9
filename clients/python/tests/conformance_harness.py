"""The conformance harness (clients/conformance/harness.mjs) as a child
process: started with the `node` on PATH (Node 24 under `npm test`, whose
PATH has node_modules/.bin first) from the repository root, which is found
from this file, so it needs no setting. Its stderr (the server's logs
included) is kept, to print when a scenario fails."""

from __future__ import annotations

import collections
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import grpc

from breakerbox.v1 import breakerbox_pb2 as pb
from breakerbox.v1 import breakerbox_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[3]
HARNESS = ROOT / "clients" / "conformance" / "harness.mjs"
#: How long the harness may take to start a server (two cores, shared with other test runs).
START_TIMEOUT = 60.0


class HarnessError(Exception):
    pass


class Harness:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise HarnessError("no `node` on PATH: the conformance harness needs Node (run through npm test, or put node_modules/.bin on PATH)")
        if not (ROOT / "dist" / "src" / "main.js").exists():
            raise HarnessError(f"{ROOT / 'dist'} is not built: run `npm run build` first")
        self._proc = subprocess.Popen(
            [node, str(HARNESS)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=500)
        threading.Thread(target=self._read_stdout, args=(self._proc.stdout,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(self._proc.stderr,), daemon=True).start()
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        ready = self._reply(START_TIMEOUT)
        if ready.get("event") != "ready":
            self.close()
            raise HarnessError(f"harness did not get ready: {ready}\n{self.stderr()}")
        self.address: str = ready["address"]
        self.direct: str = ready["direct"]
        self.scenarios: list[dict[str, Any]] = ready["scenarios"]
        #: What a scenario left behind, for the next one to undo: a killed server, a blackhole.
        self.killed = False
        self.blackholed = False

    def command(self, name: str) -> dict[str, Any]:
        """Sends a command and waits for its {"ok": name} answer (for `start`, the new `direct`)."""
        with self._lock:
            assert self._proc.stdin is not None
            self._proc.stdin.write(name + "\n")
            self._proc.stdin.flush()
            reply = self._reply(START_TIMEOUT)
            if reply.get("ok") != name:
                raise HarnessError(f"harness answered {reply} to {name!r}")
            if name == "kill":
                self.killed = True
            elif name == "start":
                self.direct, self.killed, self.blackholed = reply["direct"], False, False
            elif name == "blackhole":
                self.blackholed = True
            elif name == "restore":
                self.blackholed = False
            return reply

    def heal(self) -> None:
        """Undoes what a scenario left (a killed server, a blackhole), so the next one starts on a working path."""
        if self.killed:
            self.command("start")
        if self.blackholed:
            self.command("restore")

    def admin(self) -> Any:
        """A stub on the server itself (`direct`), which sees it while the client's path is cut."""
        channel = self._channels.get(self.direct)
        if channel is None:
            channel = self._channels[self.direct] = grpc.insecure_channel(self.direct)
        return pb_grpc.CircuitServiceStub(channel)  # type: ignore[no-untyped-call]

    def status(self, circuit: str) -> pb.CircuitStatus:
        return self.admin().GetState(pb.GetStateRequest(circuit=circuit), timeout=10).status

    def stderr(self) -> str:
        return "--- conformance harness stderr (server logs included):\n" + "".join(self._stderr)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("exit\n")
                self._proc.stdin.close()
                self._proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()

    def _reply(self, timeout: float) -> dict[str, Any]:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise HarnessError(f"no answer from the harness within {timeout:g} s\n{self.stderr()}") from None
        if reply is None:
            raise HarnessError(f"the harness exited (code {self._proc.poll()})\n{self.stderr()}")
        return reply

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                self._replies.put(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(f"[harness stdout] {line}")
        self._replies.put(None)

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line)

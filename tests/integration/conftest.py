"""Real `pexd` processes on 127.0.0.1 for the integration tests.

Every node gets its own temporary data directory (short, under /tmp: unix socket paths are
limited to ~107 bytes), a conf.yaml with short intervals, and a free port; every process is
stopped in teardown (SIGTERM, then SIGKILL), so no test leaves one behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NETWORK = "pex-it"


def _binary() -> Path:
    if os.environ.get("PEXD"):
        return Path(os.environ["PEXD"])
    command = ["swift", "build", "--show-bin-path"]
    if os.environ.get("SWIFT_SCRATCH_PATH"):
        command += ["--scratch-path", os.environ["SWIFT_SCRATCH_PATH"]]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    return Path(out.stdout.strip()) / "pexd"


PEXD = _binary()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Polls ``condition`` until it returns something truthy; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Node:
    """One `pexd run` process and its data directory."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.data = directory / name
        self.data.mkdir()
        self.port = free_port()
        self.address = f"/ip4/127.0.0.1/tcp/{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = self.data / "pexd.log"
        # conf.yaml settings; a test may change them before start().
        self.exchange_interval = "1s"
        self.sync_jitter = "200ms"
        self.connection_timeout = "3s"
        self.network = NETWORK
        self.limits: dict[str, int] = {}  # extra pex.limits entries

    @property
    def socket(self) -> str:
        return str(self.data / "admin.sock")

    def write_config(self, bootstrap: list[str]) -> None:
        lines = [
            "network:",
            f'  addresses: ["{self.address}"]',
            "peers:",
            # Short rounds with delta sync on: the request budget follows the sync interval
            # (docs/PROTOCOL.md §20.1), so peers syncing this fast are not rate-limited.
            f"  exchange_interval: {self.exchange_interval}",
            f"  connection_timeout: {self.connection_timeout}",
            "logging:",
            "  level: info",
            "pex:",
            f"  network_id: {self.network}",
            f"  data_dir: {self.data}",
            "  lab_mode: true",
            f"  bootstrap: [{', '.join(json.dumps(b) for b in bootstrap)}]",
            # Every node here shares 127.0.0.1.
            "  limits:",
            *(f"    {name}: {value}" for name, value in {"max_connections_per_ip": 64, **self.limits}.items()),
            "  timing:",
            f"    sync_jitter: {self.sync_jitter}",
            "    backoff_base: 100ms",
            "    backoff_cap: 1s",
        ]
        (self.data / "conf.yaml").write_text("\n".join(lines) + "\n")

    def move(self) -> str:
        """Picks a new free port (for a restart on another address); returns the new address."""
        self.port = free_port()
        self.address = f"/ip4/127.0.0.1/tcp/{self.port}"
        return self.address

    def start(self, bootstrap: list[str] | None = None, wait: bool = True) -> "Node":
        if bootstrap is not None or not (self.data / "conf.yaml").exists():
            self.write_config(bootstrap or [])
        log = open(self.log, "ab")
        self.process = subprocess.Popen([str(PEXD), "run", "--config", str(self.data / "conf.yaml")],
                                        stdout=log, stderr=subprocess.STDOUT, cwd=self.data)
        log.close()
        if wait:
            wait_for(lambda: self.try_admin("status"), 20, what=f"{self.name}'s admin socket")
        return self

    def admin(self, *args: str, check: bool = True, timeout: float = 15) -> subprocess.CompletedProcess:
        result = subprocess.run([str(PEXD), *args, "--socket", self.socket], capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"pexd {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def try_admin(self, *args: str):
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        result = self.admin(*args, "--json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def status(self) -> dict:
        return json.loads(self.admin("status", "--json").stdout)

    def peers(self, connected: bool = False) -> list[dict]:
        args = ["peers", "--json"] + (["--connected"] if connected else [])
        return json.loads(self.admin(*args).stdout)

    def known_keys(self) -> set[str]:
        return {p["public_key"] for p in self.peers()}

    def connected_keys(self) -> set[str]:
        return {p["public_key"] for p in self.peers(connected=True)}

    @property
    def key(self) -> str:
        return self.status()["public_key"]

    def metric(self, name: str, **labels: str) -> int:
        """Sum of a Prometheus family's samples, only those carrying every given label value."""
        text = self.admin("metrics").stdout
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if (line.startswith(name + " ") or line.startswith(name + "{"))
                   and all(w in line.rsplit(" ", 1)[0] for w in wanted))

    def offences(self, offence: str | None = None, subject: str | None = None) -> list[str]:
        """The offences this node charged, as logged: one `misbehaviour` line per offence, with
        `offence=` and `subject=` (`key <base64>` or `address <ip>`). The offence is logged as
        its Swift case name (badSignature for bad-signature), so both spellings match."""
        def fold(text: str) -> str:
            return text.replace("-", "").lower()
        found = []
        for line in self.log.read_text().splitlines():
            if "misbehaviour" not in line or "offence=" not in line:
                continue
            logged = line.split("offence=", 1)[1].split(" ", 1)[0]
            if offence is not None and fold(logged) != fold(offence):
                continue
            if subject is not None and subject not in line.split("subject=", 1)[1]:
                continue
            found.append(line)
        return found

    def record_of(self, key: str) -> dict | None:
        """This node's `peers --json` entry for ``key``, if it knows it."""
        return next((p for p in self.peers() if p["public_key"] == key), None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.nodes: list[Node] = []

    def node(self, name: str | None = None) -> Node:
        node = Node(self.directory, name or f"n{len(self.nodes)}")
        self.nodes.append(node)
        return node

    def assert_no_offences(self, *nodes: Node) -> None:
        """Honest nodes charge each other nothing; in particular no request is rate-limited at
        these short sync intervals (the request budget follows the interval, §20.1)."""
        for node in nodes or self.nodes:
            lines = node.offences()
            assert not lines, f"{node.name} charged offences:\n" + "\n".join(lines[:5])

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def cluster():
    if not PEXD.exists():
        pytest.fail(f"{PEXD} is missing: build it first (swift build --product pexd)")
    directory = Path(tempfile.mkdtemp(prefix="pexit-", dir="/tmp"))
    c = Cluster(directory)
    try:
        yield c
    finally:
        c.stop_all()
        shutil.rmtree(directory, ignore_errors=True)

"""Networks of real `pexd` processes on 127.0.0.1, observed through their admin sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time

from conftest import NETWORK, PEXD, wait_for


def test_two_nodes_handshake_and_exchange(cluster) -> None:
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    ka, kb = a.key, b.key
    wait_for(lambda: kb in a.connected_keys() and ka in b.connected_keys(), what="the handshake")
    # Each has the other's record, with the address it listens on.
    entry = next(p for p in a.peers() if p["public_key"] == kb)
    assert entry["addresses"] == [b.address] and entry["connected"]
    status = a.status()
    assert status["network_id"] == NETWORK and status["ready_peers"] == 1 and status["listen_addresses"] == [a.address]
    wait_for(lambda: a.status()["state"] == "maintenance", what="maintenance state")
    assert a.metric("pex_sync_rounds_total") >= 0 and "pex_ready_peers 1" in a.admin("metrics").stdout


def test_five_nodes_from_one_bootstrap_all_know_all(cluster) -> None:
    seed = cluster.node("seed").start()
    others = [cluster.node().start([seed.address]) for _ in range(4)]
    nodes = [seed, *others]
    keys = {n.key for n in nodes}
    started = time.monotonic()
    wait_for(lambda: all(keys - {n.key} <= n.known_keys() for n in nodes), 30, what="all nodes to know all")
    print(f"5 pexd nodes converged in {time.monotonic() - started:.2f} s")
    # 1 s rounds with delta sync: syncing honest peers are never rate-limited.
    assert all(n.metric("pex_sync_rounds_total") > 0 for n in nodes)
    cluster.assert_no_offences()


def test_restart_without_bootstrap_reconnects_from_store(cluster) -> None:
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    ka = a.key
    wait_for(lambda: ka in b.connected_keys(), what="b to connect")
    assert b.stop() == 0, "SIGTERM stops the node cleanly"
    assert not os.path.exists(b.socket), "the admin socket is removed at stop"
    b.start([])  # no bootstrap: only the store knows a
    wait_for(lambda: ka in b.connected_keys(), what="b to reconnect from its store")


def test_sighup_adds_a_bootstrap_peer_without_dropping_connections(cluster) -> None:
    a = cluster.node("a").start()
    c = cluster.node("c").start()
    b = cluster.node("b").start([a.address])
    ka, kb, kc = a.key, b.key, c.key
    wait_for(lambda: ka in b.connected_keys(), what="b to connect to a")
    b.write_config([a.address, c.address])
    b.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in b.log.read_text(), what="b to reload")
    # The connection to a holds at every look while the reload is applied.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert ka in b.connected_keys() and kb in a.connected_keys(), "SIGHUP dropped a connection"
        time.sleep(0.1)
    # b has one peer and nothing else to dial, so it tops up from the bootstrap peer that only
    # the reloaded configuration names (PROTOCOL.md §15.2, at most once per feeler interval).
    wait_for(lambda: kc in b.known_keys(), what="b to fetch from the bootstrap peer added by SIGHUP")
    # Bootstrap peers are also the fallback when no peer is connected: without a, b turns to c.
    a.stop()
    wait_for(lambda: kc in b.connected_keys(), what="b to dial the bootstrap peer added by SIGHUP")
    assert b.process.poll() is None


def _raw(port: int, payload: bytes, source: str) -> bool:
    """Sends ``payload`` from ``source``; True when the node closes the connection in time."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(payload)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            return False
    return True


def test_garbage_and_oversized_prefix_are_cut_off_while_peers_are_served(cluster) -> None:
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    kb = b.key
    wait_for(lambda: kb in a.connected_keys(), what="the handshake")
    # From 127.0.0.2: a pre-handshake offence is charged to the source address (and may ban
    # it), which must not touch the honest peer on 127.0.0.1.
    assert _raw(a.port, b"\xff\xff\xff\xff\x0f" + b"Z" * 4096, "127.0.0.2"), "oversized prefix not closed"
    assert _raw(a.port, os.urandom(2048), "127.0.0.3"), "garbage not closed"
    assert kb in a.connected_keys(), "the honest peer is still connected"
    # And a keeps serving: a newcomer joins through it and reaches b.
    d = cluster.node("d").start([a.address])
    kd = d.key
    wait_for(lambda: kd in b.known_keys() and kb in d.known_keys(), what="a newcomer to join through a")
    assert a.process.poll() is None


def test_kill_9_then_restart_keeps_what_was_committed(cluster) -> None:
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    ka = a.key
    wait_for(lambda: ka in b.connected_keys(), what="b to connect")
    store = str(b.data / "pex.db")

    def committed() -> bool:
        out = subprocess.run([str(PEXD), "export-peers", "--store", store], capture_output=True, text=True, timeout=15)
        return out.returncode == 0 and ka in out.stdout

    wait_for(committed, what="a's record to be committed to b's store")
    b.process.kill()
    b.process.wait(5)
    b.process = None
    assert os.path.exists(b.socket), "kill -9 leaves the socket file"
    no_node = b.admin("status", check=False)
    assert no_node.returncode == 1 and "no node running at" in no_node.stderr
    exported = subprocess.run([str(PEXD), "export-peers", "--store", str(b.data / "pex.db")],
                              capture_output=True, text=True, timeout=15)
    assert exported.returncode == 0, exported.stderr
    assert ka in exported.stdout
    b.start([])  # the stale socket is replaced, the store opens
    assert ka in b.known_keys()
    wait_for(lambda: ka in b.connected_keys(), what="b to reconnect after kill -9")


def test_export_and_import_peers(cluster) -> None:
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    c = cluster.node("c").start()
    kb = b.key
    wait_for(lambda: kb in a.known_keys(), what="a to learn b")
    out = a.data / "peers.yaml"
    a.admin("export-peers", "--out", str(out))
    assert kb in out.read_text()
    imported = c.admin("import-peers", str(out))
    assert "added" in imported.stdout
    wait_for(lambda: kb in c.connected_keys(), what="c to dial the imported peers")
    bad = a.data / "bad.yaml"
    bad.write_text("peers:\n  - public_key: nope\n    addresses: [/ip4/127.0.0.1/tcp/1]\n")
    assert c.admin("import-peers", str(bad), check=False).returncode == 2


def test_python_client_joins_and_is_discovered(cluster) -> None:
    from pex_client import identity
    from pex_client.client import PexNode

    seed = cluster.node("seed").start()
    others = [cluster.node().start([seed.address]) for _ in range(2)]
    nodes = [seed, *others]
    swift_keys = {n.key for n in nodes}
    wait_for(lambda: all(swift_keys - {n.key} <= n.known_keys() for n in nodes), 30, what="the swift network")

    async def scenario() -> None:
        keypair = identity.KeyPair.generate()
        python = PexNode(keypair, NETWORK)
        host, port = await python.listen("127.0.0.1", 0)
        connection = await python.connect("127.0.0.1", seed.port)
        assert connection.peer is not None
        await connection.announce([python.record])
        listing = await connection.request_peers()
        assert listing.rejected == [], "every record the seed sends verifies"
        # The handshake gave the seed's record, the listing at least one other node's.
        known = {k for k in swift_keys if identity.strict_b64decode(k) in python.table}
        assert seed.key in known and len(known) >= 2, f"the client learned only {known}"
        me = keypair.public_key_base64

        def discovered() -> bool:
            return all(me in n.known_keys() for n in nodes)

        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(discovered):
            assert time.monotonic() < deadline, "the swift nodes did not discover the python client"
            await asyncio.sleep(0.2)
        await python.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))

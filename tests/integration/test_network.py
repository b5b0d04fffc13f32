"""Networks of pexd processes (and Python peers) changing shape: joins, moves, partitions."""

from __future__ import annotations

import asyncio
import time

from conftest import NETWORK, wait_for


def all_know_all(nodes, extra: set[str] = frozenset()) -> bool:
    keys = {n.key for n in nodes} | set(extra)
    return all(keys - {n.key} <= n.known_keys() for n in nodes)


def test_a_new_node_is_announced_to_all_before_any_sync_round(cluster) -> None:
    # Sync rounds of 60 s: within the bound below, no periodic sync runs, so only the relay
    # of the newcomer's Hello record (§18.2, fanout 3) can tell the others.
    nodes = []
    for name in ["seed", "n1", "n2", "n3"]:
        node = cluster.node(name)
        node.exchange_interval = "60s"
        nodes.append(node.start([nodes[0].address] if nodes else []))
    seed = nodes[0]
    wait_for(lambda: all_know_all(nodes), 20, what="the first four to know each other")
    # The newcomer keeps its bootstrap connection only (target_outbound 1): it dials nobody
    # else, so the others can learn it only from the seed's relay.
    newcomer = cluster.node("new")
    newcomer.exchange_interval = "60s"
    newcomer.limits = {"target_outbound": 1}
    relays = seed.metric("pex_relays_total")
    started = time.monotonic()
    newcomer.start([seed.address])
    kn = newcomer.key
    wait_for(lambda: all(kn in n.known_keys() for n in nodes), 10, interval=0.05, what="every node to learn the newcomer")
    took = time.monotonic() - started
    print(f"a newcomer was known to all 4 nodes {took:.2f} s after its start")
    assert took < 10, "announced within a fraction of the 60 s sync round"
    assert seed.metric("pex_relays_total") >= relays + 3, "the seed relayed the newcomer's record to its 3 other peers"
    assert newcomer.metric("pex_connections", direction="outbound") == 1, "the newcomer dialled only the seed"
    cluster.assert_no_offences(*nodes, newcomer)


def test_a_node_that_moves_has_its_new_record_everywhere(cluster) -> None:
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    c = cluster.node("c").start([a.address])
    nodes = [a, b, c]
    wait_for(lambda: all_know_all(nodes), what="all to know all")
    kc = c.key
    old = a.record_of(kc)
    assert old["addresses"] == [c.address]
    assert c.stop() == 0
    # Same key and data directory, another port.
    new_address = c.move()
    c.start([a.address])

    def moved(node) -> bool:
        entry = node.record_of(kc)
        return entry is not None and entry["addresses"] == [new_address] and entry["seq"] > old["seq"]

    wait_for(lambda: moved(a) and moved(b), 15, what="the new record of c everywhere")
    assert {a.record_of(kc)["seq"], b.record_of(kc)["seq"]} == {c.status()["own_seq"]}, "the record c signed at restart"
    wait_for(lambda: kc in a.connected_keys() and kc in b.connected_keys(), 15, what="c reconnected at its new address")
    cluster.assert_no_offences(a, b, c)


def test_partition_of_a_chain_and_recovery(cluster) -> None:
    # A - B - C, each bootstrapped only from its neighbour.
    a = cluster.node("a").start()
    b = cluster.node("b").start([a.address])
    c = cluster.node("c").start([b.address])
    wait_for(lambda: all_know_all([a, b, c]), what="the chain to converge")
    kb, ka, kc = b.key, a.key, c.key
    # Peer exchange turned the chain into a mesh: a and c found each other through b.
    wait_for(lambda: kc in a.connected_keys() and ka in c.connected_keys(), what="a and c to connect directly")
    assert b.stop() == 0
    # A and C keep going: still running, still in a connected state, still serving newcomers.
    wait_for(lambda: kb not in a.connected_keys() and kb not in c.connected_keys(), what="b's connections to close")
    d = cluster.node("d").start([c.address])
    wait_for(lambda: all_know_all([a, c, d]), what="a newcomer to join the others while b is down")
    for node in (a, c):
        assert node.process.poll() is None
        assert node.status()["state"] == "maintenance"
    # B comes back (same data, its store knows a and c) and everything converges, d included.
    b.start()
    wait_for(lambda: all_know_all([a, b, c, d]), 20, what="all four to converge after b's return")
    wait_for(lambda: b.connected_keys() >= {a.key, c.key}, 15, what="b to reconnect to a and c")
    cluster.assert_no_offences(a, b, c, d)


def test_three_pexd_and_two_python_peers_converge(cluster) -> None:
    from pex_client import identity
    from pex_client.client import PexNode

    seed = cluster.node("seed").start()
    others = [cluster.node().start([seed.address]) for _ in range(2)]
    nodes = [seed, *others]
    swift_keys = {n.key for n in nodes}

    async def scenario() -> None:
        pythons = [PexNode(identity.KeyPair.generate(), NETWORK) for _ in range(2)]
        connections = []
        for python, node in zip(pythons, [seed, others[1]]):
            await python.listen("127.0.0.1", 0)  # pexd may dial it too (lab mode)
            connection = await python.connect("127.0.0.1", node.port)
            await connection.announce([python.record])
            connections.append(connection)
        python_keys = {p.keypair.public_key_base64 for p in pythons}
        everyone = {identity.strict_b64decode(k) for k in swift_keys | python_keys}

        def pexd_converged() -> bool:
            return all((swift_keys | python_keys) - {n.key} <= n.known_keys() for n in nodes)

        deadline = time.monotonic() + 30
        cursors: list[tuple[int, int] | None] = [None] * len(connections)
        while True:
            # Each Python peer syncs with its pexd as a pexd would: a full list first, then
            # deltas from the cursor (a repeated full request gets the same snapshot, §17.2).
            for index, connection in enumerate(connections):
                listing = await connection.request_peers(since=cursors[index])
                assert listing.rejected == [], "every record a pexd serves verifies"
                cursors[index] = listing.next
            learned = all(everyone - {p.keypair.public_key} <= {r.public_key for r in p.table.records()} for p in pythons)
            if learned and await asyncio.to_thread(pexd_converged):
                break
            if time.monotonic() > deadline:
                missing = {n.name: sorted((swift_keys | python_keys) - {n.key} - n.known_keys()) for n in nodes}
                learned_by = [sorted(identity.b64encode(k) for k in everyone - {p.keypair.public_key}
                                     - {r.public_key for r in p.table.records()}) for p in pythons]
                raise AssertionError(f"no convergence in 30 s; pexd missing {missing}, python missing {learned_by}; "
                                     f"python keys {sorted(python_keys)}")
            # At the network's pace (exchange_interval 1 s): faster requests are refused (§20.1).
            await asyncio.sleep(1)
        for python in pythons:
            await python.close()

    started = time.monotonic()
    asyncio.run(asyncio.wait_for(scenario(), 60))
    print(f"3 pexd + 2 python peers converged in {time.monotonic() - started:.2f} s")
    cluster.assert_no_offences(*nodes)

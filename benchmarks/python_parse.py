"""Python baseline for `make bench`: the official protobuf runtime parsing the same Frame bytes
(and the PeerRecord bytes inside each signed record).

Usage: python_parse.py FILE ITERATIONS ROUNDS — prints `ns_per_op <value>` per round.
"""
import sys
import time

sys.path.insert(0, "clients/python")
from pex.v1 import frame_pb2, record_pb2  # noqa: E402
from google.protobuf.internal import api_implementation  # noqa: E402


def main() -> None:
    path, iterations, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = open(path, "rb").read()
    print(f"# protobuf backend: {api_implementation.Type()}", file=sys.stderr)
    seen = 0
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            frame = frame_pb2.Frame()
            frame.ParseFromString(data)
            # Parse each inner PeerRecord too: the same decoding depth as the Swift side and the
            # C baseline's "deep" mode.
            for signed in frame.peer_response.records:
                rec = record_pb2.PeerRecord()
                rec.ParseFromString(signed.record)
                seen += len(rec.addresses)
        print(f"ns_per_op {(time.perf_counter_ns() - start) / iterations:.1f}")
    print(f"# bytes seen: {seen}", file=sys.stderr)


if __name__ == "__main__":
    main()

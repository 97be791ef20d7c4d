"""Before and after, alternating: the generated service against `--baseline`'s.

python3 bench/ab.py [--workloads w1,w2] [--concurrency 1,64] [--rounds 7] [--seconds 3]
    [--against baseline|sanic|...] [--shape flat|rows] [--v2]

Uses what `python3 bench/run.py --baseline CHECKOUT` rendered and installed (run it
once first; with --against a peer, a run with that peer). Both servers run at once,
one worker each, both pinned to CPU 0, wrk to CPU 1; each round measures one, then
the other (who goes first alternates too), so a burst of load elsewhere on the
machine hits both alike. Prints the median of the per-round ratios (service/other)
of req/s, p50, p99 and the server's CPU time per answer (microseconds; other work on
the machine moves it less than req/s).
--v2: one service instead, its v2 infer route against its /v1/predict with the same
rows (`python3 bench/run.py` renders it); the ratios are v2/v1.
"""

import argparse
import os
import statistics
from pathlib import Path

from run import RESULTS, Server, environment, v2_script, workload_requests, wrk

from harness.processes import cpu_seconds

Run = tuple[str, Server, Path]  # (label, server, wrk script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="w1,w2")
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--against", default="baseline", help="baseline or a peer")
    parser.add_argument("--shape", choices=["flat", "rows"], default="flat")
    parser.add_argument("--v2", action="store_true", help="v2 infer against v1")
    args = parser.parse_args()
    os.environ["SHAPE"] = args.shape
    python = environment("service")
    for workload in args.workloads.split(","):
        expected, script = workload_requests(workload, python)
        servers = [Server("service", workload, "0", 1, python)]
        if not args.v2:  # a peer runs in its own environment
            other = python if args.against == "baseline" else None
            servers.append(Server(args.against, workload, "0", 1, other))
        try:
            for server in servers:
                server.wait_ready(expected[0][0])
            if args.v2:
                bodies = [body for body, _ in expected]
                v2 = v2_script(servers[0], RESULTS / f"{workload}-v2.lua", bodies)
                runs = [("v2", servers[0], v2), ("v1", servers[0], script)]
            else:
                runs = [(server.name, server, script) for server in servers]
            alternate(runs, args, workload)
        finally:
            for server in servers:
                server.stop()


def alternate(runs: list[Run], args, workload: str) -> None:
    """At each of args.concurrency: args.rounds rounds, each measuring every run in
    turn (after a 1 s warm-up), in the other order every other round; then the
    ratios first/second (report) and any errors."""
    for connections in map(int, args.concurrency.split(",")):
        rows: dict[str, list[dict]] = {label: [] for label, _, _ in runs}
        for round_ in range(args.rounds):
            for label, server, lua in runs if round_ % 2 == 0 else runs[::-1]:
                wrk(server.url, lua, connections, 1, "1")  # warm-up
                before = cpu_seconds(server.process.pid)
                row = wrk(server.url, lua, connections, args.seconds, "1")
                used = cpu_seconds(server.process.pid) - before
                row["cpu"] = used / max(1, row["requests"]) * 1e6
                rows[label].append(row)
        for key in ("rps", "p50", "p99", "cpu"):
            report(workload, connections, key, rows)
        for label, found in rows.items():
            if errors := sum(r["errors"] for r in found):
                print(f"{workload} c={connections} {label}: {errors} errors")


def report(workload: str, connections: int, key: str, rows: dict) -> None:
    """One line: the median per-round ratio of the first to the second (service/
    other, or v2/v1), its range, and the medians."""
    first, second = rows
    pairs = zip(rows[first], rows[second], strict=True)
    ratios = [a[key] / b[key] for a, b in pairs]
    medians = {name: statistics.median(r[key] for r in rows[name]) for name in rows}
    print(
        f"{workload} c={connections} {key}: {first}/{second} median"
        f" {statistics.median(ratios):.2f} (rounds {min(ratios):.2f} to"
        f" {max(ratios):.2f}); medians: {first} {medians[first]:.3f},"
        f" {second} {medians[second]:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

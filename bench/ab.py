"""Before and after, alternating: the generated service against `--baseline`'s.

python3 bench/ab.py [--workloads w1,w2] [--concurrency 1,64] [--rounds 7] [--seconds 3]

Uses what `python3 bench/run.py --baseline CHECKOUT` rendered and installed (run it
once first). Both services run at once, one worker each, both pinned to CPU 0, wrk to
CPU 1; each round measures one, then the other, so a burst of load elsewhere on the
machine hits both alike. Prints the median of the per-round ratios (service/baseline).
"""

import argparse
import statistics
from pathlib import Path

from run import Server, environment, workload_requests, wrk

from harness.processes import cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="w1,w2")
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    python = environment("service")
    for workload in args.workloads.split(","):
        expected, script = workload_requests(workload, python)
        servers = {
            name: Server(name, workload, "0", 1, python)
            for name in ("service", "baseline")
        }
        try:
            for server in servers.values():
                server.wait_ready(expected[0][0])
            alternate(servers, script, args, workload)
        finally:
            for server in servers.values():
                server.stop()


def alternate(servers: dict, script: Path, args, workload: str) -> None:
    """At each of args.concurrency: args.rounds rounds, each measuring every
    server in turn (after a 1 s warm-up), in the other order every other round;
    then the ratios (report). Besides wrk's numbers, `cpu`: the server's CPU time
    per request (microseconds), which other work on the machine moves less."""
    for connections in map(int, args.concurrency.split(",")):
        rows: dict[str, list[dict]] = {name: [] for name in servers}
        for round_ in range(args.rounds):
            order = list(servers.items())  # who goes first alternates too
            for name, server in order if round_ % 2 == 0 else order[::-1]:
                wrk(server.url, script, connections, 1, "1")  # warm-up
                before = cpu_seconds(server.process.pid)
                row = wrk(server.url, script, connections, args.seconds, "1")
                used = cpu_seconds(server.process.pid) - before
                row["cpu"] = used / (row["rps"] * args.seconds) * 1e6
                rows[name].append(row)
        for key in ("rps", "p50", "p99", "cpu"):
            report(workload, connections, key, rows)


def report(workload: str, connections: int, key: str, rows: dict) -> None:
    """One line: the median per-round ratio service/baseline, its range, medians."""
    pairs = zip(rows["service"], rows["baseline"], strict=True)
    ratios = [service[key] / baseline[key] for service, baseline in pairs]
    medians = {name: statistics.median(r[key] for r in rows[name]) for name in rows}
    print(
        f"{workload} c={connections} {key}: service/baseline median"
        f" {statistics.median(ratios):.2f} (rounds {min(ratios):.2f} to"
        f" {max(ratios):.2f}); medians: service {medians['service']:.3f},"
        f" baseline {medians['baseline']:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

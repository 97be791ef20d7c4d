"""Before and after, alternating: the generated service against `--baseline`'s.

python3 bench/ab.py [--workloads w1,w2] [--concurrency 1,64] [--rounds 7] [--seconds 3]
    [--against baseline|sanic|...]

Uses what `python3 bench/run.py --baseline CHECKOUT` rendered and installed (run it
once first; with --against a peer, a run with that peer). Both servers run at once,
one worker each, both pinned to CPU 0, wrk to CPU 1; each round measures one, then
the other, so a burst of load elsewhere on the machine hits both alike. Prints the
median of the per-round ratios (service/other) of req/s, p50, p99 and CPU per answer.
"""

import argparse
import os
import statistics

from run import Server, environment, workload_requests, wrk

from harness.processes import cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="w1,w2")
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--against", default="baseline", help="baseline or a peer")
    parser.add_argument("--shape", choices=["flat", "rows"], default="flat")
    args = parser.parse_args()
    os.environ["SHAPE"] = args.shape
    python = environment("service")
    for workload in args.workloads.split(","):
        expected, script = workload_requests(workload, python)
        other = python if args.against == "baseline" else None  # a peer: its own
        servers = {
            "service": Server("service", workload, "0", 1, python),
            args.against: Server(args.against, workload, "0", 1, other),
        }
        try:
            for server in servers.values():
                server.wait_ready(expected[0][0])
            for connections in map(int, args.concurrency.split(",")):
                rows: dict[str, list[dict]] = {name: [] for name in servers}
                for _ in range(args.rounds):
                    for name, server in servers.items():
                        wrk(server.url, script, connections, 1, "1")  # warm-up
                        cpu = cpu_seconds(server.process.pid)
                        found = wrk(server.url, script, connections, args.seconds, "1")
                        cpu = cpu_seconds(server.process.pid) - cpu
                        found["cpu"] = cpu * 1000 / max(1, found["requests"])
                        rows[name].append(found)
                for key in ("rps", "p50", "p99", "cpu"):
                    report(workload, connections, key, rows)
                for name, found in rows.items():
                    if errors := sum(r["errors"] for r in found):
                        print(f"{workload} c={connections} {name}: {errors} errors")
        finally:
            for server in servers.values():
                server.stop()


def report(workload: str, connections: int, key: str, rows: dict) -> None:
    """One line: the median per-round ratio service/other, its range, medians."""
    other = next(name for name in rows if name != "service")
    pairs = zip(rows["service"], rows[other], strict=True)
    ratios = [service[key] / theirs[key] for service, theirs in pairs]
    medians = {name: statistics.median(r[key] for r in rows[name]) for name in rows}
    print(
        f"{workload} c={connections} {key}: service/{other} median"
        f" {statistics.median(ratios):.2f} (rounds {min(ratios):.2f} to"
        f" {max(ratios):.2f}); medians: service {medians['service']:.3f},"
        f" {other} {medians[other]:.3f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

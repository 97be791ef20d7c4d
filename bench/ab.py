"""Before and after, alternating: the generated service against `--baseline`'s.

python3 bench/ab.py [--workloads w1,w2] [--concurrency 1,64] [--rounds 7] [--seconds 3]
    [--v2]

Uses what `python3 bench/run.py --baseline CHECKOUT` rendered and installed (run it
once first). Both services run at once, one worker each, both pinned to CPU 0, wrk to
CPU 1; each round measures one, then the other, so a burst of load elsewhere on the
machine hits both alike. Prints the median of the per-round ratios (service/baseline)
of req/s, server CPU time per request (steadier than req/s when others load the
machine), p50 and p99.
--v2: one service instead, its v2 infer route against its /v1/predict with the same
rows (`python3 bench/run.py` renders it); the ratios are v2/v1.
"""

import argparse
import statistics

from run import RESULTS, Server, environment, v2_script, workload_requests, wrk

from harness.processes import cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="w1,w2")
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--v2", action="store_true", help="v2 infer against v1")
    args = parser.parse_args()
    python = environment("service")
    for workload in args.workloads.split(","):
        expected, script = workload_requests(workload, python)
        names = ("service",) if args.v2 else ("service", "baseline")
        servers = [Server(name, workload, "0", 1, python) for name in names]
        try:
            for server in servers:
                server.wait_ready(expected[0][0])
            if args.v2:  # (label, server, wrk script) in the order of the ratio
                bodies = [body for body, _ in expected]
                v2 = v2_script(servers[0], RESULTS / f"{workload}-v2.lua", bodies)
                runs = [("v2", servers[0], v2), ("v1", servers[0], script)]
            else:
                runs = [(server.name, server, script) for server in servers]
            for connections in map(int, args.concurrency.split(",")):
                rows: dict[str, list[dict]] = {label: [] for label, _, _ in runs}
                for _ in range(args.rounds):
                    for label, server, lua in runs:
                        wrk(server.url, lua, connections, 1, "1")  # warm-up
                        before = cpu_seconds(server.process.pid)
                        row = wrk(server.url, lua, connections, args.seconds, "1")
                        used = cpu_seconds(server.process.pid) - before
                        row["cpu_us"] = used / row["requests"] * 1e6
                        rows[label].append(row)
                for key in ("rps", "cpu_us", "p50", "p99"):
                    report(workload, connections, key, rows)
        finally:
            for server in servers:
                server.stop()


def report(workload: str, connections: int, key: str, rows: dict) -> None:
    """One line: the median per-round ratio of the first to the second (service/
    baseline, or v2/v1), its range, and the medians."""
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

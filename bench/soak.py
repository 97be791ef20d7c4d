"""Soak: the W1 service at saturation for minutes; errors by status, memory growth.

python3 bench/soak.py [--python PY] [--seconds 300] [--warmup 30] [--connections 64]

Renders a scikit-learn service serving the W1 model of bench/run.py (LogisticRegression,
20 float features, 3 classes, trained here on generated data), installs it in a
virtual environment in a temporary folder (--python: an interpreter that already has
the service's dependencies), starts it with two workers on 127.0.0.1 and drives it
with wrk (one thread, keep-alive connections, 50 request bodies in turn): --warmup
seconds, then --seconds more as back-to-back runs of 10 s, one a window. Prints a
markdown report: req/s of every window, answers by HTTP status, socket errors, and
the resident memory (RSS) of every process of the service after the warm-up and at
the end. Exits 1 when the goal is missed: no error but documented 503s (overloaded,
with Retry-After), no worker replaced, and the service's RSS grows under 10 MB.
"""

import argparse
import math
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from peers import workload  # the W1 request bodies of bench/run.py
from run import lua_script

from harness.commands import log, sh
from harness.processes import rss_mb, tree
from harness.render import render
from harness.server import Server
from harness.venvs import make

BENCH = Path(__file__).resolve().parent

WINDOW = 10  # seconds
GROWTH_MB = 10
DOCUMENTED = "503 Retry-After"  # overloaded: the bounded queue is full
SOCKET = ("connect", "read", "write", "timeout")  # wrk's socket errors
WORKER_NAME = b"SANIC_WORKER_NAME="  # in the environment of a Sanic worker process
# Counts the answers of every wrk thread by status; done() prints the totals.
COUNTING = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  local key = tostring(status)
  if status == 503 and (headers["Retry-After"] or headers["retry-after"]) then
    key = key .. " Retry-After"
  end
  statuses[key] = (statuses[key] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do
      io.write("status ", key, " = ", n, "\\n")
    end
  end
end
"""


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    """One wrk run: req/s, answers by status, socket errors by kind."""
    out = sh("wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                   "--timeout", "10s", "-s", script, f"{url}/v1/predict")  # fmt: skip
    statuses = Counter()
    for key, count in re.findall(r"^status (.+) = (\d+)$", out, re.M):
        statuses[key] += int(count)
    found = re.search(", ".join(rf"{kind} (\d+)" for kind in SOCKET), out)
    counts = map(int, found.groups()) if found else [0] * 4  # no line: none
    sockets = Counter(dict(zip(SOCKET, counts, strict=True)))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    return {"rps": rate, "statuses": statuses, "sockets": sockets}


def memory(pid: int) -> dict[int, tuple[str, float]]:
    """Every process of the service: pid -> (what it is, RSS in MB)."""
    found = {}
    for each in tree(pid):
        try:
            environ = Path(f"/proc/{each}/environ").read_bytes().split(b"\0")
            command = Path(f"/proc/{each}/cmdline").read_bytes()
        except OSError:
            continue
        names = [v.split(b"=", 1)[1] for v in environ if v.startswith(WORKER_NAME)]
        if each == pid:
            role = "manager (python -m)"
        elif names:
            role = f"worker {names[0].decode()}"
        elif b"resource_tracker" in command:
            role = "helper: multiprocessing resource tracker"
        else:
            role = "helper: Sanic's shared-state process"
        found[each] = (role, rss_mb(each))
    return found


def total(snapshot: dict[int, tuple[str, float]]) -> float:
    return sum(rss for _, rss in snapshot.values())


def workers(snapshot: dict[int, tuple[str, float]]) -> set[int]:
    return {pid for pid, (role, _) in snapshot.items() if role.startswith("worker")}


def report(
    args: argparse.Namespace, runs: list[dict], start: dict, end: dict, loads: list
) -> tuple[str, bool]:
    """The markdown report of the runs (the warm-up first), and whether the goal
    is met."""
    statuses = sum((run["statuses"] for run in runs), Counter())
    sockets = sum((run["sockets"] for run in runs), Counter())
    errors = sum(n for key, n in statuses.items() if key not in ("200", DOCUMENTED))
    errors += sum(sockets.values())
    growth = total(end) - total(start)
    replaced = workers(start) != workers(end)
    windows = runs[1:]
    lines = [
        f"# Soak: W1 service, 2 workers, {len(windows) * WINDOW} s at saturation",
        "",
        f"wrk: 1 thread, {args.connections} keep-alive connections, {args.warmup} s "
        f"of warm-up, then {len(windows)} back-to-back runs of {WINDOW} s. "
        f"{os.cpu_count()} CPUs shared by the service, wrk and whatever else runs "
        f"(load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end).",
        "",
        "| window | req/s | answers | not 200 | socket errors | service RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for i, run in enumerate(runs):
        name = f"{(i - 1) * WINDOW}-{i * WINDOW} s" if i else "warm-up"
        answers = sum(run["statuses"].values())
        not_200, broken = answers - run["statuses"]["200"], sum(run["sockets"].values())
        lines.append(
            f"| {name} | {run['rps']:,.0f} | {answers:,} | {not_200:,} | {broken:,} | "
            f"{run['rss']:.1f} |"
        )
    rates = [w["rps"] for w in windows]
    lines += [
        "",
        f"req/s over the windows: min {min(rates):,.0f}, mean "
        f"{sum(rates) / len(rates):,.0f}, max {max(rates):,.0f}.",
        "",
        "| HTTP status | answers |",
        "|---|---|",
        *(f"| {key} | {n:,} |" for key, n in sorted(statuses.items())),
        "",
        "Socket errors: " + ", ".join(f"{k} {sockets[k]}" for k in SOCKET) + ".",
        "",
        "| process | pid | RSS MB after warm-up | at the end | growth |",
        "|---|---|---|---|---|",
    ]
    for pid in sorted(start.keys() | end.keys()):  # a replaced worker: two rows
        role = (start.get(pid) or end[pid])[0]
        before, after = (s[pid][1] if pid in s else math.nan for s in (start, end))
        numbers = f"{before:.1f} | {after:.1f} | {after - before:+.1f}"
        numbers = numbers.replace("+nan", "-").replace("nan", "-")  # gone, or new
        lines.append(f"| {role} | {pid} | {numbers} |")
    lines.append(
        f"| **total** | | {total(start):.1f} | {total(end):.1f} | **{growth:+.1f}** |"
    )
    checks = [
        (f"errors other than {DOCUMENTED}: {errors}", errors == 0),
        (f"RSS growth {growth:+.1f} MB (under {GROWTH_MB} MB)", growth < GROWTH_MB),
        ("the same workers at the end (none died or was replaced)", not replaced),
    ]
    lines += ["", "Goal:", ""]
    lines += [f"- {text}: {'met' if met else 'MISSED'}" for text, met in checks]
    return "\n".join(lines) + "\n", all(met for _, met in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="an interpreter with the service's deps")
    parser.add_argument("--seconds", type=int, default=300, help="measured")
    parser.add_argument("--warmup", type=int, default=30, help="seconds, before")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        folder = Path(tmp)
        log("render the W1 service, install it, train its model")
        context = {"service_name": "soak-w1", "ml_library": "scikit-learn"}
        service = render(folder, **context)
        shutil.copy(BENCH / "models/w1_model.py", service / "src/soak_w1/model.py")
        python = args.python or make(folder / "venv", [service])
        sh(python, BENCH / "peers/workload.py", "train", service / "artifacts")
        script = lua_script(folder / "soak.lua", workload.inputs(50), COUNTING)
        with Server(python, service, quiet=True, WORKERS="2") as server:
            log(f"warm-up, {args.warmup} s")
            runs = [wrk(server.url, script, args.connections, args.warmup)]
            start, loads = memory(server.process.pid), [os.getloadavg()[0]]
            runs[0]["rss"] = total(start)
            for i in range(math.ceil(args.seconds / WINDOW)):
                runs.append(wrk(server.url, script, args.connections, WINDOW))
                runs[-1]["rss"] = total(memory(server.process.pid))
                log(f"{(i + 1) * WINDOW} s: {runs[-1]['rps']:,.0f} req/s, "
                    f"RSS {runs[-1]['rss']:.1f} MB")  # fmt: skip
            end = memory(server.process.pid)
            loads.append(os.getloadavg()[0])
    text, met = report(args, runs, start, end, loads)
    print(text)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""Shadow traffic costs the caller nothing; a new model is compared in minutes.

1. Side by side, W1 (scikit-learn LogisticRegression, 20 features, one row a
   request, 1 worker), 16 concurrent keep-alive connections: a primary copying every
   request (SHADOW_RATE=1) to a candidate whose predict() sleeps 1 s, against the
   same primary without SHADOW_URL. Loaded in turn, in pairs (A B, then B A), so the
   noise of a shared machine hits both alike; the answer is the median of the
   pairs' ratios of req/s and of p99 latency.
2. Time to results: from a retrained model's artifacts on disk to a compare report
   against the running primary: `make candidate ARTIFACTS=...` until ready, then
   `make compare` replaying 200 inputs.

python bench/shadow.py [--python PY] [--seconds 4] [--rounds 6]
  --python: an interpreter with the rendered service installed (default: a fresh
  virtual environment in the temporary folder, a minute or two to install).
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from harness.examples import example, replace_block
from harness.processes import cpu_seconds
from harness.render import render as render_service
from harness.server import Server, free_port, source_env
from harness.template import module
from harness.venvs import make
from harness.waiting import wait_until

INPUT = """
features: list[float] = Field(min_length=20, max_length=20)
"""
EXAMPLE = '"examples": [{"features": [5.1, 3.5, 1.4, 0.2]}]'
# The served body, as in the tests; BENCH_SLEEP makes the candidate slow.
PREDICT = (
    "import os\nimport time\n\n"
    'if os.environ.get("BENCH_SLEEP"):\n'
    '    time.sleep(float(os.environ["BENCH_SLEEP"]))\n'
) + example("scikit-learn").PREDICT
TRAIN = """
import joblib, sys
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
x, y = make_classification(
    n_samples=3000, n_features=20, n_informative=8, n_classes=3, random_state=0
)
model = LogisticRegression(C=float(sys.argv[2]), max_iter=1000).fit(x, y)
joblib.dump(model, sys.argv[1])
"""
CONCURRENCY = 16
# In the service's interpreter: what offer() adds to a request, in us: a copy queued,
# and a copy dropped (a full queue, as when the candidate is slow); and what the
# background task spends comparing one copy's answers (orjson, compare()).
COSTS = """
import timeit, orjson
from {settings} import Settings
from {shadow} import Copy, Shadow, compare, _answers
body = orjson.dumps({{"features": [0.5] * 20}})
scores = {{"a": 0.7, "b": 0.2, "c": 0.1}}
answer = orjson.dumps({{"label": "a", "probabilities": scores}})
def offers(size):
    shadow = Shadow(Settings(shadow_url="http://127.0.0.1:9", shadow_queue=size))
    return lambda: shadow.offer(Copy("id", body, answer, False, 1))
queued, dropped = offers(10**6), offers(1)
dropped()
def compared():
    a, b = _answers(answer, False)[0], _answers(answer, False)[0]
    compare(a, b, 1e-6, 1)
for name, run in (("queued", queued), ("dropped", dropped), ("compared", compared)):
    print(name, min(timeit.repeat(run, number=10000, repeat=5)) / 10000 * 1e6)
"""


def render(folder: Path) -> Path:
    """The scikit-learn service, W1-shaped."""
    service = render_service(folder, service_name="w1-bench", ml_library="scikit-learn")
    model_py = service / "src/w1_bench/model.py"
    source = replace_block(model_py.read_text(), "REPLACE with your model's", INPUT)
    source = replace_block(source, "REPLACE with your prediction code", PREDICT)
    example_input = json.dumps({"features": [round(0.1 * i, 1) for i in range(20)]})
    model_py.write_text(source.replace(EXAMPLE, f'"examples": [{example_input}]'))
    return service


def inputs(count: int) -> list[dict]:
    rng = random.Random(0)
    return [{"features": [rng.gauss(0, 1) for _ in range(20)]} for _ in range(count)]


def requests() -> list[bytes]:
    out = []
    for item in inputs(256):
        body = json.dumps(item).encode()
        head = "POST /v1/predict HTTP/1.1\r\nHost: bench\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        out.append(head.encode() + body)
    return out


async def load(port: int, seconds: float, bodies: list[bytes]) -> tuple[float, float]:
    """req/s and p99 latency (ms) of CONCURRENCY keep-alive connections."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(bodies[i % len(bodies)])
            head = await reader.readuntil(b"\r\n\r\n")
            size = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
            await reader.readexactly(size)
            assert head[9:12] == b"200", head
            latencies.append(time.perf_counter() - started)
            i += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i * 7) for i in range(CONCURRENCY)))
    rate = len(latencies) / (time.perf_counter() - started)
    return rate, statistics.quantiles(latencies, n=100)[98] * 1000


def shadow_outcomes(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        text = answer.read().decode()
    pattern = r'^w1_bench_shadow_predictions_total\{outcome="(\w+)"\} (\S+)$'
    return {k: float(v) for k, v in re.findall(pattern, text, re.M)}


def side_by_side(python: str, service: Path, seconds: float, rounds: int) -> None:
    with contextlib.ExitStack() as stack:
        slow = Server(python, service, quiet=True, WORKERS="1", BENCH_SLEEP="1")
        stack.enter_context(slow)
        shadowed = {"SHADOW_URL": slow.url, "SHADOW_RATE": "1"}
        configs = {"no shadow": {}, "shadow": shadowed}
        servers = {
            name: stack.enter_context(
                Server(python, service, quiet=True, WORKERS="1", **env)
            )
            for name, env in configs.items()
        }
        bodies = requests()
        for server in servers.values():  # warm both up
            asyncio.run(load(server.port, 2, bodies))
        found: dict[str, list[tuple[float, float, float]]] = {n: [] for n in configs}
        for round_ in range(rounds):
            order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
            for name in order:
                pid, port = servers[name].process.pid, servers[name].port
                before = cpu_seconds(pid)
                rate, p99 = asyncio.run(load(port, seconds, bodies))
                used = (cpu_seconds(pid) - before) / (rate * seconds) * 1e6
                found[name].append((rate, p99, used))
            (base, base_p99, base_cpu), (copy, copy_p99, copy_cpu) = (
                found[n][-1] for n in configs
            )
            print(
                f"round {round_ + 1}: no shadow {base:6.0f} req/s p99 {base_p99:5.1f}"
                f" ms {base_cpu:4.0f} us CPU/req; shadow {copy:6.0f} req/s p99"
                f" {copy_p99:5.1f} ms {copy_cpu:4.0f} us CPU/req",
                flush=True,
            )
        outcomes = shadow_outcomes(servers["shadow"].port)
    pairs = list(zip(*found.values(), strict=True))
    rate = statistics.median(b[0] / a[0] for a, b in pairs)
    p99 = statistics.median(b[1] / a[1] for a, b in pairs)
    cpu = statistics.median(b[2] / a[2] for a, b in pairs)
    print(
        f"shadow / no shadow (medians of pairs): req/s x{rate:.3f}, p99 x{p99:.3f},"
        f" service CPU per request x{cpu:.3f}"
    )
    print(f"copies to the 1 s candidate, by outcome: {outcomes}")


def costs(python: str, service: Path) -> None:
    roles = {role: module(service, role) for role in ("settings", "shadow")}
    output = subprocess.run(
        [python, "-c", COSTS.format(**roles)],
        cwd=service,
        env={**os.environ, **source_env(service)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = dict(line.split() for line in output.splitlines())
    print(
        "in-process, per request: offer() {queued:.2f} us when queued, {dropped:.2f}"
        " us when dropped; comparing a copy's answers {compared:.2f} us (background"
        " task)".format(**{k: float(v) for k, v in found.items()})
    )


def time_to_report(python: str, service: Path, folder: Path) -> None:
    """Retrained artifacts on disk -> a compare report against the running primary."""
    retrained = folder / "retrained"
    retrained.mkdir()
    subprocess.run(
        [python, "-c", TRAIN, retrained / "model.joblib", "0.01"], check=True
    )
    replay = folder / "inputs.jsonl"
    replay.write_text("\n".join(json.dumps(x) for x in inputs(200)))
    bin_dir, port = str(Path(python).parent), str(free_port())
    env = {**os.environ, **source_env(service)}  # --python need not have it installed
    make_args = [
        f"BIN={bin_dir}",
        f"PORT={port}",
        f"CANDIDATE_URL=http://127.0.0.1:{port}",
    ]
    with Server(python, service, quiet=True) as primary:
        started = time.perf_counter()
        candidate = subprocess.Popen(
            ["make", "-s", "candidate", f"ARTIFACTS={retrained}", *make_args],
            cwd=service,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until(lambda: ready(port), 120, "the candidate is not ready", 0.05)
            ready_at = time.perf_counter() - started
            report = subprocess.run(
                ["make", "-s", "compare", f"URL={primary.url}", *make_args]
                + [f"ARGS=--replay {replay}"],
                cwd=service,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            done_at = time.perf_counter() - started
        finally:
            os.killpg(candidate.pid, signal.SIGTERM)
            candidate.wait(60)
    print(report.splitlines()[0])
    print(
        f"time to results: candidate ready {ready_at:.1f} s, compare report of 200"
        f" inputs {done_at:.1f} s after the retrained artifacts were on disk"
    )


def ready(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        folder = Path(tmp)
        service = render(folder)
        python = args.python or str(make(folder / "venv", [service]))
        model = service / "artifacts/model.joblib"
        subprocess.run([python, "-c", TRAIN, model, "1.0"], check=True)
        costs(python, service)
        side_by_side(python, service, args.seconds, args.rounds)
        time_to_report(python, service, folder)


if __name__ == "__main__":
    main()

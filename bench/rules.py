"""Overhead of rules.yaml: req/s with no rules vs 10 rules that never match.

W1-style workload: scikit-learn LogisticRegression, 20 float features, 3 classes,
one row a request, 64 concurrent keep-alive connections, 2 workers per service.
Both services run side by side and are loaded in turn, in pairs (A B, then B A),
so the noise of a shared machine hits both alike; the answer is the median of the
ratios of the pairs. Each round also prints the CPU time the service processes
spent per request (Linux /proc) and the mean batch size, which drives that CPU
time. Last, the cost of RuleSet.apply() itself, measured in-process, as a share
of the service's CPU per request: the figure to trust on a busy machine.

python bench/rules.py [--python PY] [--seconds 4] [--rounds 10] [--same]
  --python: an interpreter with the rendered service's dependencies installed
  (default: a fresh virtual environment in the temporary folder, which takes a
  minute or two to install).
  --same: no rules in either service (A/A), to see the noise floor of the machine.
"""

import argparse
import asyncio
import contextlib
import json
import operator
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from harness.examples import example, replace_block
from harness.processes import cpu_seconds
from harness.render import render as render_service
from harness.server import Server
from harness.template import module
from harness.venvs import make

CLASSES = ["billing", "card_lost", "fraud"]
INPUT = """
features: list[float] = Field(min_length=20, max_length=20)
"""
EXAMPLE = '"examples": [{"features": [5.1, 3.5, 1.4, 0.2]}]'
PREDICT = example("scikit-learn").PREDICT  # the served body, as in the tests
TRAIN = f"""
import joblib, sys
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
x, y = make_classification(
    n_samples=3000, n_features=20, n_informative=8, n_classes=3, random_state=0
)
model = LogisticRegression(max_iter=1000).fit(x, [{CLASSES!r}[i] for i in y])
joblib.dump(model, sys.argv[1])
"""
# Ten realistic rules; none matches (probabilities stay within 0..1, features small).
RULES = "mode: all\nrules:\n" + "".join(
    f"  - name: rule-{i}\n    when: {when}\n    set: {{label: review}}\n"
    for i, when in enumerate(
        [f'label == "{c}" and probabilities["{c}"] > 1.5' for c in CLASSES + CLASSES]
        + ['probabilities["fraud"] > 2', "probabilities[label] < 0"]
        + ["features[0] > 1000", 'label == "unknown"']
    )
)
# In the service's interpreter: the cost of RuleSet.apply() on one-row requests.
APPLY = """
import random, timeit
from pathlib import Path
from {model} import Input, Model
from {rules} import load
model = Model()
model.load(Path("artifacts"))
rng = random.Random(0)
inputs = [[Input(features=[rng.gauss(0, 1) for _ in range(20)])] for _ in range(256)]
pairs = [(i, model.predict(i)) for i in inputs]
rules = load(Path("rules-10.yaml"))
assert all(rule.fast for rule in rules.rules)
def run():
    for i, o in pairs:
        rules.apply(i, o)
print(min(timeit.repeat(run, number=20, repeat=7)) / (20 * len(pairs)) * 1e6)
"""


def render(folder: Path) -> Path:
    """Render the scikit-learn service, W1-shaped; replay files stay in `folder`."""
    service = render_service(folder, service_name="w1-bench", ml_library="scikit-learn")
    model_py = service / "src/w1_bench/model.py"
    source = replace_block(model_py.read_text(), "REPLACE with your model's", INPUT)
    source = replace_block(source, "REPLACE with your prediction code", PREDICT)
    example = json.dumps({"features": [round(0.1 * i, 1) for i in range(20)]})
    model_py.write_text(source.replace(EXAMPLE, f'"examples": [{example}]'))
    (service / "rules-10.yaml").write_text(RULES)
    return service


async def load(port: int, seconds: float, bodies: list[bytes]) -> tuple[float, int]:
    """req/s of 64 keep-alive connections for `seconds`; and the non-200 count."""
    deadline = time.perf_counter() + seconds
    counts = {"ok": 0, "bad": 0}

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset
        while time.perf_counter() < deadline:
            writer.write(bodies[i % len(bodies)])
            head = await reader.readuntil(b"\r\n\r\n")
            size = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
            await reader.readexactly(size)
            counts["ok" if head[9:12] == b"200" else "bad"] += 1
            i += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i * 7) for i in range(64)))
    return counts["ok"] / (time.perf_counter() - started), counts["bad"]


def batch_sizes(port: int) -> tuple[float, float]:
    """(rows, predict() calls) so far, from the service's batch_size histogram."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as answer:
        text = answer.read().decode()
    found = dict(re.findall(r"^w1_bench_batch_size_(sum|count) (\S+)$", text, re.M))
    return float(found["sum"]), float(found["count"])


def requests() -> list[bytes]:
    rng = random.Random(0)
    out = []
    for _ in range(256):
        body = json.dumps({"features": [rng.gauss(0, 1) for _ in range(20)]}).encode()
        head = "POST /v1/predict HTTP/1.1\r\nHost: bench\r\n"
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        out.append(head.encode() + body)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--same", action="store_true", help="A/A: no rules in both (the noise floor)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        folder = Path(tmp)
        service = render(folder)
        python = args.python or make(folder / "venv", [service])
        model = str(service / "artifacts/model.joblib")
        roles = {role: module(service, role) for role in ("model", "rules")}
        subprocess.run([python, "-c", TRAIN, model], check=True)
        apply_us = float(
            subprocess.run(
                [python, "-c", APPLY.format(**roles)],
                cwd=service,
                env={**os.environ, "PYTHONPATH": str(service / "src")},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        rules = {} if args.same else {"RULES_FILE": "rules-10.yaml"}
        b_name = "no rules again" if args.same else "10 rules"
        configs = {"no rules": {}, b_name: rules}
        with contextlib.ExitStack() as stack:
            servers = {
                name: stack.enter_context(Server(python, service, quiet=True, **env))
                for name, env in configs.items()
            }
            bodies = requests()
            for server in servers.values():  # warm both up
                asyncio.run(load(server.port, 2, bodies))
            rates: dict[str, list[float]] = {name: [] for name in configs}
            cpu: dict[str, list[float]] = {name: [] for name in configs}
            sizes: dict[str, list[float]] = {name: [] for name in configs}
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
                for name in order:
                    pid, port = servers[name].process.pid, servers[name].port
                    before, batches = cpu_seconds(pid), batch_sizes(port)
                    rate, bad = asyncio.run(load(port, args.seconds, bodies))
                    used = cpu_seconds(pid) - before
                    rows, calls = map(operator.sub, batch_sizes(port), batches)
                    sizes[name].append(rows / calls)
                    assert bad == 0, f"{bad} requests failed ({name})"
                    rates[name].append(rate)
                    cpu[name].append(used / (rate * args.seconds) * 1e6)
                base, ruled = (rates[name][-1] for name in configs)
                print(
                    f"round {round_ + 1}: no rules {base:6.0f} req/s, "
                    f"{b_name} {ruled:6.0f} req/s ({100 * (1 - ruled / base):+.1f} %), "
                    f"CPU {cpu['no rules'][-1]:.0f} vs {cpu[b_name][-1]:.0f} us, "
                    f"batch {sizes['no rules'][-1]:.1f} vs {sizes[b_name][-1]:.1f}",
                    flush=True,
                )
    ratios = [r / b for b, r in zip(*rates.values(), strict=True)]
    loss = 100 * (1 - statistics.median(ratios))
    spread = f"{100 * (1 - max(ratios)):+.1f} to {100 * (1 - min(ratios)):+.1f}"
    print(f"{b_name}: {loss:+.1f} % fewer req/s than no rules (rounds: {spread})")
    base_cpu, ruled_cpu = (statistics.median(cpu[name]) for name in configs)
    print(
        f"service CPU per request: no rules {base_cpu:.0f} us, {b_name} "
        f"{ruled_cpu:.0f} us ({100 * (ruled_cpu / base_cpu - 1):+.1f} %)"
    )
    print(
        f"RuleSet.apply() in-process: {apply_us:.1f} us a one-row request, "
        f"{100 * apply_us / base_cpu:.1f} % of the service CPU per request"
    )


if __name__ == "__main__":
    main()

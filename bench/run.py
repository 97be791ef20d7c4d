"""Benchmark the generated service against its peers; print one markdown report.

python3 bench/run.py [--duration 3] [--warmup 1] [--concurrency 1,16,64]
    [--peers sanic,fastapi,litserve,mlserver,bentoml] [--workloads w1,w2,w3]
    [--shape flat|rows] [--baseline CHECKOUT]

Renders real services for three workloads (W1: scikit-learn LogisticRegression,
W2: torch MLP, W3: scikit-learn RandomForestClassifier), trains their models, and
serves the same models with the same JSON API from each peer, every one in its own
virtual environment (kept in bench/results/venvs, made on first use). Each server
runs with one worker pinned to CPU 0, wrk to CPU 1. Answers are checked before
anything is measured; CPU per answer is the server process tree's CPU time over
the measured run divided by its answers.
--shape rows: each request holds several rows (a list of rows per Input).
--baseline: also render the services from another checkout of this template (an
older commit's worktree, say) and measure them as the peer `baseline`.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from harness import client
from harness.commands import log, sh
from harness.models import close
from harness.processes import cpu_seconds, rss_mb, tree
from harness.render import render as render_template
from harness.server import free_port
from harness.template import ROOT
from harness.venvs import install, make

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PEERS = BENCH / "peers"
os.environ.setdefault("SHAPE", "flat")  # request shape, read by peers/workload.py
TORCH = "torch==2.13.0"  # always first into a venv, from the local CPU build
PACKAGES = {
    "service": ["cookiecutter>=2.7"],  # then the rendered services' dependencies
    "baseline": ["cookiecutter>=2.7"],  # where they differ from the service's
    "sanic": ["sanic", "scikit-learn", "joblib"],
    "fastapi": ["fastapi", "uvicorn[standard]", "scikit-learn", "joblib"],
    "litserve": ["litserve", "scikit-learn", "joblib"],
    "mlserver": ["mlserver", "uvloop<0.22", "scikit-learn", "joblib"],  # 1.7 vs 0.22
    "bentoml": ["bentoml", "scikit-learn", "joblib"],
}


def environment(name: str) -> Path:
    """A venv for one server (made once, reused): torch first, then its packages."""
    folder = RESULTS / "venvs" / name
    python = folder / "bin" / "python"
    if (folder / "done").exists():
        return python
    log(f"making the {name} environment")
    shutil.rmtree(folder, ignore_errors=True)
    make(folder, [TORCH], PACKAGES[name])
    (folder / "done").write_text(sh(python, "-m", "pip", "freeze"))
    return python


def rendered(name: str, workload: str) -> Path:
    """Where the generated service `name` (service, baseline) of a workload is."""
    return RESULTS / "services" / name / workload / f"bench-{workload}"


def render(python: Path, name: str, workload: str, template: Path) -> Path:
    """Render `template` for a workload as `name`, with this checkout's model.py
    (and the request shape it imports)."""
    service = rendered(name, workload)
    shutil.rmtree(service.parent, ignore_errors=True)
    library = "torch" if workload == "w2" else "scikit-learn"
    render_template(
        service.parent, python, template,
        service_name=service.name, ml_library=library,
    )  # fmt: skip
    package = service / "src" / service.name.replace("-", "_")
    shutil.copy(BENCH / "models" / f"{workload}_model.py", package / "model.py")
    shape = BENCH / "models" / f"shape_{os.environ['SHAPE']}.py"
    shutil.copy(shape, package / "shape.py")
    return service


def dependencies(services: list[Path]) -> list[str]:
    """The runtime dependencies the rendered services declare."""
    found = set()
    for service in services:
        project = tomllib.loads((service / "pyproject.toml").read_text("utf-8"))
        found.update(project["project"]["dependencies"])
    return sorted(found)


def service_environment(workloads: list[str], baseline: Path | None) -> dict[str, Path]:
    """The python of each generated service (service, and baseline if asked), the
    rendered services, and the trained artifacts. The baseline shares the service's
    environment where the two declare the same dependencies, else has its own."""
    templates = {"service": ROOT} | ({"baseline": baseline} if baseline else {})
    renderer = environment("service")  # has cookiecutter
    services = {
        name: [render(renderer, name, w, template) for w in workloads]
        for name, template in templates.items()
    }
    pythons: dict[str, Path] = {}
    for name, found in services.items():
        wanted = "\n".join(dependencies(found))
        if name != "service" and wanted == "\n".join(dependencies(services["service"])):
            pythons[name] = pythons["service"]
            continue
        python = pythons[name] = environment(name)
        marker = python.parents[1] / "deps"
        if not marker.exists() or marker.read_text() != wanted:
            log(f"installing the dependencies of the {name} services")
            install(python, *found)  # their dependencies, from their pyproject
            marker.write_text(wanted)
    python = pythons["service"]
    for workload in workloads:
        artifacts = RESULTS / "artifacts" / workload
        if not (artifacts / "trained").exists():  # (older runs saved less)
            artifacts.mkdir(parents=True, exist_ok=True)
            sh(python, PEERS / "workload.py", "train", artifacts, WORKLOAD=workload)
            (artifacts / "trained").write_text("")
    return pythons


# Peers started by their own CLI, to which --host and --port are added.
CLI = {
    "sanic": ["-m", "sanic", "naive_sanic:app", "--workers", "1"],
    "fastapi": ["-m", "uvicorn", "fastapi_app:app", "--workers", "1"],
    "bentoml": ["-m", "bentoml", "serve", "bentoml_service:Bench"],
}


class Server:
    """One server process group, pinned to CPUs, logging to a file."""

    def __init__(
        self,
        name: str,
        workload: str,
        cpus: str = "0",
        workers: int = 1,
        python: Path | None = None,
        artifacts: Path | None = None,
    ) -> None:
        self.name, self.workload, self.port = name, workload, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        artifacts = artifacts or RESULTS / "artifacts" / workload
        env = {
            "WORKLOAD": workload,
            "ARTIFACTS": str(artifacts),
            "PYTHONPATH": str(PEERS),
            "PORT": str(self.port),
        }
        python = python or environment(name)
        cwd = PEERS
        if name in ("service", "baseline"):  # generated services
            cwd = rendered(name, workload)
            command = [python, "-m", f"bench_{workload}"]
            env.update(
                PYTHONPATH=str(cwd / "src"),
                HOST="127.0.0.1",
                WORKERS=str(workers),
                ARTIFACTS_DIR=str(artifacts),
            )
        elif name in CLI:
            listen = ["--host", "127.0.0.1", "--port", str(self.port)]
            command = [python, *CLI[name], *listen]
        elif name == "litserve":
            command = [python, "litserve_app.py"]
        elif name == "mlserver":
            cwd = RESULTS / "mlserver" / workload
            cwd.mkdir(parents=True, exist_ok=True)
            settings = {  # parallel_workers 0: its pool does not start here
                "parallel_workers": 0,
                "http_port": self.port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "host": "127.0.0.1",
            }
            (cwd / "settings.json").write_text(json.dumps(settings))
            model = {"name": "bench", "implementation": "mlserver_runtime.Bench"}
            (cwd / "model-settings.json").write_text(json.dumps(model))
            command = [python.parent / "mlserver", "start", "."]
        logs = RESULTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{artifacts.name}-{name}-{workers}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            ["taskset", "-c", cpus, *map(str, command)],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def post(self, body: dict) -> tuple[int, bytes]:
        status, _, answer = client.request(self.url + "/v1/predict", body, timeout=30)
        return status, answer

    def wait_ready(self, body: dict, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        streak = 0
        while streak < 5:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")
            try:
                streak = streak + 1 if self.post(body)[0] == 200 else 0
            except OSError:
                streak = 0
            time.sleep(0.05 if streak else 0.3)

    def rss_mb(self) -> tuple[float, float]:
        """Resident memory of the process tree (server, workers, helpers) and of
        its largest process (the worker)."""
        sizes = [rss_mb(pid) for pid in tree(self.process.pid)]
        return sum(sizes), max(sizes)

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def check_answers(server: Server, expected: list) -> None:
    """Every answer equals the in-process prediction before anything is measured."""
    for body, want in expected:
        status, answer = server.post(body)
        if status != 200 or not close(json.loads(answer), want, 1e-4, 1e-4):
            raise RuntimeError(f"{server.name}: wrong answer {status} {answer[:300]!r}")


def lua_script(
    path: Path, bodies: list[dict], more: str = "", route: str = "/v1/predict"
) -> Path:
    """A wrk script that posts `bodies` in turn to `route`; `more` Lua after."""
    # Lua long strings of level 1: a JSON list of rows ends in "]]"
    items = ",\n".join(f"  [=[{json.dumps(b)}]=]" for b in bodies)
    path.write_text(
        f"local bodies = {{\n{items}\n}}\n"
        "local i = 0\n"
        'local headers = {["Content-Type"] = "application/json"}\n'
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        f'  return wrk.format("POST", "{route}", headers, bodies[i])\n'
        "end\n" + more
    )
    return path


def v2_script(server: "Server", path: Path, bodies: list[dict]) -> Path:
    """The same bodies as Open Inference Protocol (v2) infer requests, one tensor
    per field (as the service's v2 metadata says)."""
    name = json.loads(client.request(server.url + "/v2", timeout=30)[2])["name"]
    metadata = client.request(f"{server.url}/v2/models/{name}", timeout=30)[2]
    requests = []
    for body in bodies:
        inputs = []
        for spec in json.loads(metadata)["inputs"]:
            value = body[spec["name"]]
            shape = [1, len(value)] if isinstance(value, list) else [1]
            data = value if isinstance(value, list) else [value]
            inputs.append({**spec, "shape": shape, "data": data})
        requests.append({"inputs": inputs})
    return lua_script(path, requests, route=f"/v2/models/{name}/infer")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, script: Path, connections: int, seconds: float, cpus: str) -> dict:
    out = sh(
        "taskset",
        "-c",
        cpus,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        script,
        url + "/v1/predict",
    )

    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(match.group(1)) * UNITS[match.group(2)] if match else float("nan")

    errors = sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non2xx.group(1)) if non2xx else 0
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {
        "rps": rps,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": errors,
        "requests": total,
    }


def measure(server: Server, script: Path, args, cpus: str = "1") -> dict[int, dict]:
    """Warm up, then measure, at each concurrency: latency, CPU milliseconds of the
    server's process tree per answer, and RSS after the run."""
    results = {}
    for connections in args.concurrency:
        wrk(server.url, script, connections, args.warmup, cpus)  # discarded
        cpu = cpu_seconds(server.process.pid)
        found = wrk(server.url, script, connections, args.duration, cpus)
        cpu = cpu_seconds(server.process.pid) - cpu
        found["cpu_ms"] = cpu * 1000 / max(1, found["requests"] - found["errors"])
        results[connections] = found
        results[connections]["rss"], results[connections]["worker"] = server.rss_mb()
        log(f"  {server.name} c={connections}: {results[connections]}")
    return results


def workload_requests(workload: str, python: Path) -> tuple[list, Path]:
    """50 (body, in-process answer) pairs of a workload, and wrk's script of them."""
    expected = json.loads(
        sh(
            python,
            PEERS / "workload.py",
            "expect",
            "50",
            WORKLOAD=workload,
            ARTIFACTS=str(RESULTS / "artifacts" / workload),
        )
    )
    script = lua_script(RESULTS / f"{workload}.lua", [body for body, _ in expected])
    return expected, script


def bench_workload(workload: str, pythons: dict[str, Path], args) -> dict:
    """Every server of one workload, one after the other, with checked answers."""
    expected, script = workload_requests(workload, pythons["service"])
    results = {}
    runs = [("service", 1, "0", "1")]
    runs += [("baseline", 1, "0", "1")] if "baseline" in pythons else []
    runs += [(peer, 1, "0", "1") for peer in args.peers]
    if args.two_workers:
        runs.append(("service", 2, "0,1", "0,1"))
    for name, workers, cpus, load_cpus in runs:
        label = name if workers == 1 else f"service x2 ({cpus})"
        log(f"{workload}: {label}")
        try:
            server = Server(name, workload, cpus, workers, pythons.get(name))
        except Exception as error:  # e.g. a peer that cannot be installed here
            results[label] = {"error": f"{type(error).__name__}: {error}"[:300]}
            log(f"  {label} skipped: {results[label]['error']}")
            continue
        try:
            server.wait_ready(expected[0][0])
            check_answers(server, expected)
            results[label] = measure(server, script, args, load_cpus)
            v2 = args.v2 and os.environ["SHAPE"] == "flat"  # (one row an instance)
            if name == "service" and workers == 1 and v2:  # the v2 route, c=64
                bodies = [body for body, _ in expected]
                v2 = v2_script(server, RESULTS / f"{workload}-v2.lua", bodies)
                at_64 = argparse.Namespace(**{**vars(args), "concurrency": [64]})
                results["service v2"] = measure(server, v2, at_64, load_cpus)
        except Exception as error:
            results[label] = {"error": f"{type(error).__name__}: {error}"[:300]}
            log(f"  {label} failed: {results[label]['error']}")
        finally:
            server.stop()
    return results


RATIOS = ("rps", "p50", "p99", "cpu_ms")


def divide(a: float, b: float) -> float:
    """a / b, or NaN where b is 0 (a server that answered nothing)."""
    return a / b if b else float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def report(all_results: dict, args) -> str:
    lines = [
        f"# Benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"One worker pinned to CPU 0, wrk pinned to CPU 1; warm-up {args.warmup} s "
        f"discarded, then {args.duration} s measured per concurrency. "
        "CPU: the server process tree's CPU milliseconds per answer. "
        "RSS: whole server process tree after the run / its largest process. "
        "'service x2': two workers; server and wrk share both CPUs. "
        f"Request shape: {os.environ['SHAPE']}. Load average (1, 5, 15 min) at "
        f"the start: {args.load}, at the end: {load_average()}.",
    ]
    for workload, results in all_results.items():
        lines += [
            "",
            f"## {workload.upper()}",
            "",
            "| server | c | req/s | p50 ms | p99 ms | errors | CPU ms/answer | RSS MB"
            " tree/worker |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, by_c in results.items():
            if "error" in by_c:
                why = " ".join(by_c["error"].replace("|", "/").split())[:160]
                lines.append(f"| {name} | - | not run: {why} |||||")
                continue
            for c, r in by_c.items():
                lines.append(
                    f"| {name} | {c} | {fmt(r['rps'], 0)} | {fmt(r['p50'], 2)} | "
                    f"{fmt(r['p99'], 2)} | {r['errors']} | {fmt(r['cpu_ms'], 3)} | "
                    f"{fmt(r['rss'], 0)} / {fmt(r['worker'], 0)} |"
                )
        ours = results.get("service", {})
        if "error" in ours:
            continue
        lines += [
            "",
            "Ratios of the generated service (1 worker) to each peer:",
            "",
            "| peer | c | req/s ratio | p50 ratio | p99 ratio | CPU/answer ratio |"
            " worker RSS diff MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, by_c in results.items():
            if name == "service" or "error" in by_c:
                continue
            for c, r in by_c.items():
                mine = ours[c]
                ratio = {k: fmt(divide(mine[k], r[k]), 2) for k in RATIOS}
                lines.append(
                    f"| {name} | {c} | {ratio['rps']}x | {ratio['p50']} | "
                    f"{ratio['p99']} | {ratio['cpu_ms']} | "
                    f"{mine['worker'] - r['worker']:+.0f} |"
                )
    lines += targets(all_results)
    return "\n".join(lines) + "\n"


def targets(all_results: dict) -> list[str]:
    """The issue's targets against naive Sanic, met or missed, from this run."""
    lines = ["", "## Targets (generated service vs naive Sanic, this run)", ""]
    for workload, results in all_results.items():
        ours, peer = results.get("service", {}), results.get("sanic", {})
        two = next((v for k, v in results.items() if k.startswith("service x2")), {})
        v2 = results.get("service v2", {})
        if 64 in v2 and 64 in ours:
            ratio = ours[64]["rps"] / v2[64]["rps"]  # v2 should cost at most 10 %
            verdict = "met" if ratio <= 1.1 else "MISSED"
            lines.append(
                f"- {workload.upper()} c=64 v1/v2 req/s <= 1.1: {ratio:.2f} ({verdict})"
            )
        if "error" in ours or "error" in peer or 1 not in ours or 64 not in ours:
            lines.append(f"- {workload.upper()}: not measured (need c=1 and c=64)")
            continue
        least = 4.0 if workload == "w3" else 2.0
        checks = [
            (
                f"c=64 req/s >= {least}x",
                divide(ours[64]["rps"], peer[64]["rps"]),
                least,
                True,
            ),
            ("c=64 p99 no worse", divide(ours[64]["p99"], peer[64]["p99"]), 1.0, False),
            ("c=64 errors 0", ours[64]["errors"], 0, False),
            (
                "c=64 CPU <= 0.5x",
                divide(ours[64]["cpu_ms"], peer[64]["cpu_ms"]),
                0.5,
                False,
            ),
            ("c=1 p50 within 10%", divide(ours[1]["p50"], peer[1]["p50"]), 1.1, False),
            ("c=1 p99 within 20%", divide(ours[1]["p99"], peer[1]["p99"]), 1.2, False),
            (
                "worker RSS <= +30 MB",
                ours[64]["worker"] - peer[64]["worker"],
                30,
                False,
            ),
        ]
        if 64 in two:
            checks.append(
                ("2 workers >= 1.7x", two[64]["rps"] / ours[64]["rps"], 1.7, True)
            )
        for name, value, limit, at_least in checks:
            met = value >= limit if at_least else value <= limit
            verdict = "met" if met else "MISSED"
            lines.append(f"- {workload.upper()} {name}: {value:.2f} ({verdict})")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=1, help="seconds discarded")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--peers", default="sanic,fastapi,litserve,mlserver,bentoml")
    parser.add_argument("--workloads", default="w1,w2,w3")
    parser.add_argument("--shape", choices=["flat", "rows"], default="flat")
    parser.add_argument("--no-two-workers", dest="two_workers", action="store_false")
    parser.add_argument("--no-v2", dest="v2", action="store_false", help="skip /v2")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="another checkout of this template, measured as the peer `baseline`",
    )
    args = parser.parse_args()
    if args.baseline and not (args.baseline / "cookiecutter.json").is_file():
        parser.error(f"--baseline: {args.baseline} is not a checkout of the template")
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    os.environ["SHAPE"], args.load = args.shape, load_average()
    args.peers = [p for p in args.peers.split(",") if p]
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    workloads = args.workloads.split(",")
    baseline = args.baseline.resolve() if args.baseline else None
    pythons = service_environment(workloads, baseline)
    all_results = {w: bench_workload(w, pythons, args) for w in workloads}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"results-{stamp}.json").write_text(json.dumps(all_results, indent=1))
    text = report(all_results, args)
    (RESULTS / f"report-{stamp}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

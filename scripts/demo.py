"""See a live prediction: render a scikit-learn service, train, serve, ask, stop.

python3 scripts/demo.py      (needs only Python 3.11+ and the package registry)
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def sh(*command: object, cwd: Path | None = None, env: dict | None = None) -> None:
    subprocess.run([str(c) for c in command], cwd=cwd, env=env, check=True)


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="modelservice-demo-"))
    step(f"virtual environment in {work}")
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    python = work / "venv" / "bin" / "python"
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    sh(*pip, "cookiecutter>=2.7")

    step("render the template (scikit-learn), as `cookiecutter <template>` does")
    config = work / "cookiecutter.yaml"  # keeps replay files out of $HOME
    config.write_text(
        f"replay_dir: {work / 'replay'}\ncookiecutters_dir: {work / 'cc'}\n"
    )
    render = (
        "from cookiecutter.main import cookiecutter; import sys; "
        "cookiecutter(sys.argv[1], no_input=True, output_dir=sys.argv[2], "
        "config_file=sys.argv[3], extra_context={'ml_library': 'scikit-learn'})"
    )
    sh(python, "-c", render, ROOT, work, config)
    service = work / "iris-classifier"

    step("install the service, train a model on the iris data, write predict()")
    sh(*pip, "-e", service)
    sh(
        python,
        ROOT / "examples/scikit-learn/example.py",
        "train",
        service / "artifacts",
    )
    sh(python, ROOT / "examples/fill.py", "scikit-learn", service)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    step(f"start the service on {url} (two workers)")
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2"}
    log = (work / "service.log").open("w")
    server = subprocess.Popen(
        [python, "-m", "iris_classifier"], cwd=service, env=env, stdout=log, stderr=log
    )
    try:
        wait_ready(url, server)
        step("POST /v1/predict with the example input")
        body = json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}).encode()
        request = urllib.request.Request(f"{url}/v1/predict", data=body)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as answer:
            print(f"  request:  {body.decode()}")
            print(f"  answer:   {answer.read().decode()}")
            print(f"  request id: {answer.headers['X-Request-ID']}")
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        log.close()
    step(f"stopped with exit code {code}; took {time.monotonic() - started:.0f} s")
    print(f"  the rendered service is in {service} (log: {work / 'service.log'})")
    return code


def wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the service exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("the service was not ready within 120 s")


if __name__ == "__main__":
    sys.exit(main())

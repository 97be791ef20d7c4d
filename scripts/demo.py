"""See a live prediction: render a scikit-learn service, train, serve, ask, stop.

python3 scripts/demo.py      (needs only Python 3.11+ and the package registry)
"""

import json
import sys
import tempfile
import time
from pathlib import Path

from harness.commands import run
from harness.examples import fill, script
from harness.render import render
from harness.server import Server
from harness.venvs import install, make


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="modelservice-demo-"))
    step(f"virtual environment in {work}")
    python = make(work / "venv", ["cookiecutter>=2.7"])

    step("render the template (scikit-learn), as `cookiecutter <template>` does")
    service = render(work, python, ml_library="scikit-learn")

    step("install the service, train a model on the iris data, write predict()")
    install(python, "-e", service)
    run([python, script("scikit-learn"), "train", service / "artifacts"])
    fill("scikit-learn", service)

    server = Server(python, service, WORKERS="2")
    step(f"start the service on {server.url} (two workers)")
    try:
        server.wait_ready(timeout=120)
        step("POST /v1/predict with the example input")
        body = {"features": [5.1, 3.5, 1.4, 0.2]}
        status, headers, answer = server.request("/v1/predict", body)
        print(f"  request:  {json.dumps(body)}")
        print(f"  answer:   {status} {answer.decode()}")
        print(f"  request id: {headers['X-Request-ID']}")
    except (AssertionError, TimeoutError) as error:  # exited, or not ready in time
        sys.exit(f"the service did not start: {error}")
    finally:
        code = server.stop(timeout=60)
        server.log.close()
    step(f"stopped with exit code {code}; took {time.monotonic() - started:.0f} s")
    print(f"  the rendered service is in {service} (log: {server.log.name})")
    return code


if __name__ == "__main__":
    sys.exit(main())

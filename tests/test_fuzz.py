"""Contract fuzzing: schemathesis drives each library's real service from its own
OpenAPI document; no 5xx, every answer as documented."""

import json
import re
import subprocess

import pytest

from harness.environments import BY_LIBRARY
from harness.examples import example
from harness.metrics import answers
from harness.models import trained_service

REQUESTS = 2000  # generated requests per library, at the least
MAX_EXAMPLES = 2000  # per operation; most go to POST /v1/predict


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_fuzzed_requests_get_documented_answers(
    cookies, environments, server_factory, library: str
) -> None:
    """Valid and invalid generated bodies (wrong shapes and types, huge numbers,
    odd text, empty and oversized batches): no 5xx; every status, header and body
    fits the OpenAPI document and the error envelope."""
    service, python = trained_service(cookies, environments, library)
    server = server_factory(python, service, MAX_BATCH_SIZE="4")  # batches split
    server.wait_ready()
    batch = {"instances": example(library).inputs(10)}  # over MAX_BATCH_SIZE
    status, _, body = server.request("/v1/predict", batch)
    assert status == 200 and len(json.loads(body)["predictions"]) == 10
    before = answers(server)  # (503s while the model loaded)

    done = subprocess.run(
        [str(python.with_name("st")), "run", f"{server.url}/openapi.json"]
        + ["--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", "1"]
        + ["--generation-database", "none", "--no-color"],
        cwd=service,  # its .schemathesis folder goes there
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    generated = int(re.search(r"(\d+) generated", done.stdout).group(1))
    assert generated >= REQUESTS, report
    after = answers(server)
    answered = {s: n - before.get(s, 0) for s, n in after.items()}
    print(f"{library}: {generated} generated; answers by status: {answered}")
    assert sum(answered.values()) >= generated
    assert not [s for s, n in answered.items() if s.startswith("5") and n], answered
    assert server.stop() == 0, server.output()

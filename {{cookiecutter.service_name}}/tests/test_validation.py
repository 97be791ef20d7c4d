"""Golden cases in validation/cases.yaml, and the parity record of training."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.__package_name }}.config import MODEL_FILE, PACKAGE_NAME
from {{ cookiecutter.__package_name }}.serving import parity
from {{ cookiecutter.__package_name }}.tools import cases
from {{ cookiecutter.__package_name }}.tools.validate import (
    InProcess,
    Live,
    run_case,
    stale_example,
)

ROOT = Path(__file__).resolve().parents[1]
CASES = cases.load(ROOT / "validation" / "cases.yaml")
PARITY = ROOT / "artifacts" / parity.PARITY_FILE


@pytest.fixture(scope="module")
def model() -> InProcess:
    """The model loaded in this process; skips while predict() is the stub."""
    try:
        return InProcess()
    except Exception as error:
        if "not implemented yet" in str(error):
            pytest.skip(f"predict() in {MODEL_FILE} is not implemented yet")
        raise


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_case_passes_in_process(model: InProcess, case: cases.Case) -> None:
    """Each case in validation/cases.yaml passes on the model of this folder (the
    template's example case is skipped, with a note, once it no longer fits)."""
    if note := stale_example(case):
        pytest.skip(note)
    result = run_case(model, case)
    assert result.passed, f"line {case.line}: " + "; ".join(result.failures())


def test_validate_command_passes_against_the_service(
    ready: httpx.Client, service: str
) -> None:
    """`make validate URL=...` exits 0 against the running service."""
    done = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE_NAME}.tools.validate", service],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_service_reproduces_the_parity_record(
    ready: httpx.Client, service: str
) -> None:
    """The served answers equal the ones recorded at training (parity.record)."""
    if not PARITY.exists():
        pytest.skip("no artifacts/parity.json: call parity.record() after training")
    live = Live(service)
    digest = live.describe()["artifact_digest"]
    problems = parity.compare(
        parity.read(PARITY), lambda xs: live.predict(xs, batched=True), digest
    )
    assert not problems, "\n".join(problems)

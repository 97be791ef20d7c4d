"""A scientist's own model, not one of the examples, following only the READMEs."""

import json
import os
import random
import subprocess
import sys
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.commands import run
from harness.examples import example, replace_block
from harness.models import close, in_process
from harness.render import bake
from harness.server import source_env as service_env
from harness.template import EXAMPLES
from harness.template import ROOT as TEMPLATE_DIR

LIBRARY = "scikit-learn"
COUNTRIES = ["DE", "FR", "NL", "PL"]
MODEL_PY = '''"""Churn: will a customer leave? A Pipeline over named columns."""

from pathlib import Path
from typing import Literal

import joblib
import pandas
from pydantic import BaseModel, Field


class Input(BaseModel):
    """One customer, one field per training column."""

    plan: Literal["basic", "plus", "pro"] = Field(description="Subscription plan.")
    country: str = Field(min_length=2, max_length=2, description="ISO country code.")
    tenure_months: float = Field(ge=0, le=600, description="Months as a customer.")
    monthly_spend: float = Field(ge=0, le=10_000, description="Spend per month.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "plan": "plus",
                    "country": "DE",
                    "tenure_months": 14,
                    "monthly_spend": 42.5,
                }
            ]
        }
    }


class Output(BaseModel):
    """The prediction for one customer."""

    label: str = Field(description="churn or stay.")
    probabilities: dict[str, float] = Field(description="Probability of each class.")


class Model:
    """Loads the trained model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Load the model saved with joblib.dump(model, "artifacts/model.joblib")."""
        self.model = joblib.load(artifacts_dir / "model.joblib")

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        x = pandas.DataFrame([item.model_dump() for item in inputs])
        classes = [str(c) for c in self.model.classes_]
        rows = self.model.predict_proba(x)
        outputs = []
        for row in rows:
            p = dict(zip(classes, row.tolist(), strict=True))
            outputs.append(Output(label=max(p, key=p.get), probabilities=p))
        return outputs
'''
TRAIN = """
import random

import joblib
import pandas
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

rng = random.Random(0)
rows = [
    {
        "plan": rng.choice(["basic", "plus", "pro"]),
        "country": rng.choice(COUNTRIES),
        "tenure_months": rng.uniform(0, 120),
        "monthly_spend": rng.uniform(5, 200),
    }
    for _ in range(400)
]
churn = [
    (r["plan"] == "basic") + (r["tenure_months"] < 12) + (r["country"] == "PL")
    + rng.random() > 1.2
    for r in rows
]
columns = ColumnTransformer(
    [
        ("strings", OneHotEncoder(handle_unknown="ignore"), ["plan", "country"]),
        ("numbers", StandardScaler(), ["tenure_months", "monthly_spend"]),
    ]
)
model = Pipeline(
    [("columns", columns), ("classify", GradientBoostingClassifier(random_state=0))]
)
model.fit(pandas.DataFrame(rows), ["churn" if c else "stay" for c in churn])
joblib.dump(model, "artifacts/model.joblib")
"""


def customers(count: int) -> list[dict]:
    """Requests as callers send them, with a country the model never saw."""
    rng = random.Random(1)
    return [
        {
            "plan": rng.choice(["basic", "plus", "pro"]),
            "country": rng.choice([*COUNTRIES, "ZZ"]),
            "tenure_months": round(rng.uniform(0, 150), 1),
            "monthly_spend": round(rng.uniform(0, 250), 2),
        }
        for _ in range(count)
    ]


def layered_venv(folder: Path, shared: Path) -> Path:
    """A new virtual environment that also sees the shared scikit-learn one.

    Installing pandas into the shared environment would change it for every later
    test of that library; a fresh one would reinstall scikit-learn and the service's
    runtime (minutes). So the new environment gets a .pth line naming the shared
    site-packages, after its own: `make install` still installs the rendered
    service's locks for real, finds most of them there, and installs what is new
    (pandas, the editable service) here only.
    """
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    own, theirs = (run([str(p), "-c", where], folder).strip() for p in (python, shared))
    (Path(own) / "shared-scikit-learn.pth").write_text(theirs + "\n", encoding="utf-8")
    return python


def make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.xdist_group(LIBRARY)  # sees that library's environment
@pytest.mark.slow
def test_pipeline_over_named_columns_is_served_as_the_readme_says(
    cookies, environments, server_factory, tmp_path: Path
) -> None:
    """A Pipeline(ColumnTransformer(one-hot strings, scaled numbers), boosting) fed
    a DataFrame: pandas added as README says, `make install`, `make test` green,
    two workers answer as the model does in-process."""
    # Its own name: the shared environment has an iris-classifier installed, which
    # an editable install of the same name would replace there.
    service = bake(cookies, ml_library=LIBRARY, service_name="churn-pipeline")
    python = layered_venv(tmp_path / "venv", environments.python(LIBRARY))
    installed = make("install", f"VENV={tmp_path / 'venv'}", cwd=service)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr
    model_py = next(service.glob("src/*/model.py"))
    model_py.write_text(MODEL_PY, encoding="utf-8")
    test = [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]

    # Before pandas is a dependency: the symptom the README names.
    done = subprocess.run(
        test, cwd=service, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "No module named 'pandas'" in done.stdout + done.stderr

    # README, "Adding a dependency": a line in `dependencies`, `make lock`, then
    # `make install`.
    pyproject = service / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '    "scikit-learn>=1.3,<2",\n]' in text
    text = text.replace('<2",\n]', '<2",\n    "pandas>=2",\n]', 1)
    pyproject.write_text(text, encoding="utf-8")
    locked = make("lock", f"VENV={tmp_path / 'venv'}", cwd=service)
    assert locked.returncode == 0, locked.stdout[-3000:] + locked.stderr
    installed = make("install", f"VENV={tmp_path / 'venv'}", cwd=service)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr
    assert "pandas" in installed.stdout  # installed here, not found in the shared one

    script = f"COUNTRIES = {COUNTRIES!r}\n{TRAIN}"
    run([str(python), "-c", script], service)
    run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], service)
    output = run(test, service)
    assert "is not implemented yet" not in output, output  # predict tests ran
    assert "skipped 'setosa-example'" in output, output  # the template's example

    inputs = customers(100)
    expected = in_process(python, service, inputs)
    assert {x["label"] for x in expected} == {"churn", "stay"}  # a real model
    server = server_factory(python, service)  # two workers
    server.wait_ready()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda x: server.request("/v1/predict", x), inputs))
    for instance, (status, _, body), want in zip(
        inputs, answers, expected, strict=True
    ):
        assert status == 200, body
        assert close(json.loads(body), want), (instance, body, want)
    assert server.stop() == 0, server.output()


@pytest.mark.xdist_group(LIBRARY)  # shares that library's environment
@pytest.mark.slow
def test_example_case_is_skipped_once_input_and_output_are_replaced(
    cookies, environments, tmp_path: Path
) -> None:
    """A scikit-learn render whose model.py becomes a text model (the `other`
    example's): `make test` and validate pass with a note on the template's case,
    untouched; a case of the scientist's own that does not fit Input fails."""
    service = bake(cookies, ml_library=LIBRARY)
    python = environments.python(LIBRARY)
    cases_file = service / "validation" / "cases.yaml"
    shipped = cases_file.read_text(encoding="utf-8")
    text_model = (TEMPLATE_DIR / "templates/libraries/other/model.py").read_text()
    text_model = replace_block(text_model, "loading code", example("other").LOAD)
    text_model = replace_block(text_model, "prediction code", example("other").PREDICT)
    next(service.glob("src/*/model.py")).write_text(text_model, encoding="utf-8")
    run(
        [str(python), str(EXAMPLES / "other" / "example.py"), "train", "artifacts"],
        service,
    )

    test = [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    output = run(test, service, **service_env(service))
    assert "is not implemented yet" not in output, output
    note = "skipped 'setosa-example' (line "
    assert note in output and "(Input: text: Field required)" in output, output

    package = service.name.replace("-", "_")
    validate = [str(python), "-m", f"{package}.tools.validate"]
    env = {**os.environ, **service_env(service)}
    done = subprocess.run(
        validate, cwd=service, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()  # one line: what, why, what to do
    assert line.startswith(f"note: {note}") and "delete it" in line, line
    assert cases_file.read_text(encoding="utf-8") == shipped

    own = tmp_path / "own.yaml"  # the scientist's own case, for the iris Input
    own.write_text(
        "cases:\n  - name: mine\n    input: {features: [5.1, 3.5, 1.4, 0.2]}\n"
        "    expect:\n      - {field: label, equals: positive}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [*validate, "--cases", str(own)],
        cwd=service,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "422 invalid_input" in done.stdout and "note:" not in done.stderr
    done = subprocess.run(
        ["make", "validate", f"BIN={python.parent}", f"ARGS=--cases {own}"],
        cwd=service,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2  # make's own code for any failed command
    assert "validate exited 1 (1: a case failed" in done.stderr, done.stderr

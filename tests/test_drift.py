"""Drift: a real model's training reference, live counts in /metrics summed over two
workers, `validate --drift` naming the broken field, `validate --evaluate`."""

import json
import random
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.commands import run
from harness.environments import BY_LIBRARY
from harness.examples import example, write_block
from harness.metrics import samples
from harness.models import REFERENCE_SIZE, record_training, trained_service, validate
from harness.render import bake
from harness.waiting import wait_until

COUNTRIES = ["GB", "FR", "DE", "ES", "IT"]
CHANNELS = ["web", "app", "store"]
INPUT = """
amount: float = Field(ge=0, description="Amount of the payment.")
age: float = Field(ge=0, description="Age of the account holder (years).")
country: str = Field(description="Country code.")
channel: str = Field(description="web, app or store.")
"""
OUTPUT = """
label: str = Field(description="fraud or ok.")
score: float = Field(description="Probability of the label.")
"""
PREDICT = """
countries, channels = self.model["countries"], ["web", "app", "store"]
rows = [
    [i.amount, i.age, *(i.country == c for c in countries)]
    + [i.channel == c for c in channels]
    for i in inputs
]
classes = [str(c) for c in self.model["model"].classes_]
return [
    Output(label=classes[int(p.argmax())], score=float(p.max()))
    for p in self.model["model"].predict_proba(rows)
]
"""
TRAIN = """
import json, sys, joblib
from sklearn.linear_model import LogisticRegression
data = json.loads(open(sys.argv[1]).read())
countries = ["GB", "FR", "DE", "ES", "IT"]
rows = [
    [d["amount"], d["age"], *(d["country"] == c for c in countries),
     *(d["channel"] == c for c in ["web", "app", "store"])]
    for d in data
]
labels = ["fraud" if d["amount"] > 300 and d["channel"] == "web" else "ok"
          for d in data]
model = LogisticRegression(max_iter=2000).fit(rows, labels)
joblib.dump({"model": model, "countries": countries}, "artifacts/model.joblib")
"""


def payments(count: int, seed: int) -> list[dict]:
    """Payments as the training data has them."""
    rng = random.Random(seed)
    return [
        {
            "amount": round(rng.lognormvariate(4, 1), 2),
            "age": round(rng.uniform(18, 90), 1),
            "country": rng.choices(COUNTRIES, [50, 20, 15, 10, 5])[0],
            "channel": rng.choice(CHANNELS),
        }
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def payments_service(cookies_session, environments):
    """A scikit-learn service trained in the test on generated payments (numbers and
    categories), with its reference recorded from the training data."""
    service = bake(cookies_session, ml_library="scikit-learn")
    python = environments.python("scikit-learn")
    write_block(service, "model's features", INPUT)
    write_block(service, "what your model answers", OUTPUT)
    write_block(service, "prediction code", PREDICT)
    training = payments(3000, seed=1)
    model_py = next(service.glob("src/*/model.py"))
    source = model_py.read_text(encoding="utf-8")
    example_input = json.dumps({"examples": [training[0]]})
    model_py.write_text(
        source.replace(
            '{"examples": [{"features": [5.1, 3.5, 1.4, 0.2]}]}', example_input
        )
    )
    (service / "training.json").write_text(json.dumps(training), encoding="utf-8")
    run([python, "-c", TRAIN, "training.json"], service)
    record_training(python, service, "reference", training)
    return SimpleNamespace(service=service, python=python)


def counted(server) -> dict[str, float]:
    """Instances counted per field in /metrics (summed over bins and workers)."""
    found: dict[str, float] = {}
    for name, values in samples(server).items():
        for labels, value in values if name.endswith("_field_values_total") else []:
            found[labels["field"]] = found.get(labels["field"], 0) + value
    return found


def settled(server, field: str, count: int) -> None:
    """Wait until /metrics holds `count` values of `field` (workers write the
    drift counts at most once a second)."""
    wait_until(lambda: counted(server).get(field) == count, 10, lambda: counted(server))


def diagnose(live, server, folder: Path, answered: int) -> tuple[str, dict]:
    """`validate URL --drift --json FILE`, once the `answered` instances are
    counted: its output and its JSON."""
    settled(server, "age", answered)
    report = folder / "drift.json"
    done = validate(live.python, live.service, server.url, "--drift", "--json", report)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.stdout, json.loads(report.read_text())


def send(server, instances: list[dict], batch: int = 1) -> list[int]:
    """POST the instances, `batch` a request; the statuses."""
    statuses = []
    for start in range(0, len(instances), batch):
        chunk = instances[start : start + batch]
        body = chunk[0] if batch == 1 else {"instances": chunk}
        statuses.append(server.request("/v1/predict", body)[0])
    return statuses


def fault_free(instances: list[dict]) -> list[dict]:
    return instances


def amount_times_100(instances: list[dict]) -> list[dict]:
    return [{**x, "amount": x["amount"] * 100} for x in instances]


def new_country(instances: list[dict]) -> list[dict]:
    return [
        {**x, "country": "XX"} if i % 10 < 3 else x for i, x in enumerate(instances)
    ]


def amount_missing(instances: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in x.items() if k != "amount"} if i % 10 < 3 else x
        for i, x in enumerate(instances)
    ]


def swapped(instances: list[dict]) -> list[dict]:
    return [{**x, "amount": x["age"], "age": x["amount"]} for x in instances]


FAULTS = {  # fault -> the fields the diagnosis may name first
    amount_times_100: {"amount"},
    new_country: {"country"},
    amount_missing: {"amount"},
    swapped: {"amount", "age"},
}


def serve(payments_service, server_factory, fault, batch: int = 20):
    """A 2-worker server given 600 training-like payments through `fault`."""
    server = server_factory(payments_service.python, payments_service.service)
    server.wait_ready()
    traffic = fault(payments(600, seed=2))
    statuses = send(server, traffic, batch)
    return server, statuses


def test_training_like_traffic_drifts_nowhere(
    payments_service, server_factory, tmp_path
) -> None:
    """Payments drawn like the training data: every field's PSI under 0.1, the
    verdict says no field drifted and the command exits 0."""
    server, statuses = serve(payments_service, server_factory, fault_free)
    assert set(statuses) == {200}
    output, report = diagnose(payments_service, server, tmp_path, 600)
    fields = {row["field"]: row for row in report["fields"]}
    assert {"amount", "age", "country", "channel", "output.label"} <= fields.keys()
    assert all(row["psi"] < 0.1 for row in report["fields"]), output
    assert all(row["count"] == 600 for row in report["fields"]), output
    assert "no field drifted" in output.splitlines()[-1], output


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.__name__)
def test_each_pipeline_fault_is_named(
    payments_service, server_factory, tmp_path, fault
) -> None:
    """Each injected fault makes `--drift` name its field as most likely broken."""
    batch = 1 if fault is amount_missing else 20  # a 422 rejects a whole request
    server, statuses = serve(payments_service, server_factory, fault, batch)
    answered = batch * statuses.count(200)
    output, report = diagnose(payments_service, server, tmp_path, answered)
    top = next(r for r in report["fields"] if not r["field"].startswith("output."))
    assert top["field"] in FAULTS[fault], output
    verdict = output.splitlines()[-1]
    assert verdict == report["verdict"]
    assert verdict.startswith(f"most likely broken: {top['field']} "), output
    if fault is new_country:
        assert top["top_unseen"] == ["XX"], output
    if fault is amount_missing:
        assert statuses.count(422) == 180 and top["invalid"] == 180, output
    if fault is amount_times_100:
        assert top["above"] > 0.9, output


def test_evaluate_joins_logged_predictions_with_later_labels(
    payments_service, server_factory, tmp_path
) -> None:
    """--evaluate joins the live service's prediction log with a labels file (CSV,
    by request id) and reports the accuracy overall, by day, by label, by rule."""
    live = payments_service
    server = server_factory(live.python, live.service, PREDICTION_LOG_RATE="1")
    server.wait_ready()
    rows, right = ["request_id,index,label"], 0
    for number, instance in enumerate(payments(40, seed=3)):
        request_id = f"payment-{number}"
        headers = {"X-Request-ID": request_id}
        status, _, body = server.request("/v1/predict", instance, headers=headers)
        assert status == 200
        truth = "fraud" if instance["amount"] > 300 and number % 2 else "ok"
        right += json.loads(body)["label"] == truth
        rows.append(f"{request_id},0,{truth}")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    log = Path(server.log.name)
    wait_until(lambda: log.read_text().count('"msg":"prediction"') >= 40, 10)
    done = validate(live.python, live.service, "--evaluate", log, labels, "--json",
                    tmp_path / "evaluation.json")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "evaluation.json").read_text())
    assert result["metric"] == "accuracy" and result["joined"] == 40
    assert result["overall"]["all"] == {"n": 40, "accuracy": right / 40}
    assert sum(row["n"] for row in result["predicted"].values()) == 40
    assert result["rule"] == {"(no rule)": {"n": 40, "accuracy": right / 40}}
    assert len(result["day"]) in (1, 2)  # a run across midnight: two days
    assert "overall:" in done.stdout and "by predicted:" in done.stdout


def test_without_reference_nothing_is_exported(
    payments_service, server_factory, tmp_path
) -> None:
    """Without artifacts/reference.json no drift metric is made, and --drift says
    there is no reference (exit 2)."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(payments_service.service / "artifacts", artifacts)
    (artifacts / "reference.json").unlink()
    server = server_factory(
        payments_service.python, payments_service.service, ARTIFACTS_DIR=str(artifacts)
    )
    server.wait_ready()
    assert set(send(server, payments(20, seed=4), 5)) == {200}
    names = samples(server)
    assert names, "no metrics at all"
    drift = (
        "_field_values",
        "_field_reference_share",
        "_field_unseen",
        "_reference_info",
    )
    assert not [n for n in names if any(d in n for d in drift)], sorted(names)
    done = validate(payments_service.python, payments_service.service, server.url,
                    "--drift")  # fmt: skip
    assert done.returncode == 2 and "no training reference" in done.stderr


@pytest.mark.parametrize("library", BY_LIBRARY)
def test_example_records_a_reference_and_counts(
    cookies_session, environments, server_factory, library
) -> None:
    """Every library's example service has a reference recorded from its training
    inputs (not stale), and /metrics counts each input field of each instance."""
    service, python = trained_service(cookies_session, environments, library)
    saved = json.loads((service / "artifacts/reference.json").read_text())
    assert saved["instances"] == REFERENCE_SIZE
    inputs = [name for name in saved["fields"] if not name.startswith("output.")]
    assert inputs and len(saved["fields"]) > len(inputs)  # outputs watched too
    server = server_factory(python, service)
    server.wait_ready()
    assert set(send(server, example(library).inputs(20, seed=3), 4)) == {200}
    settled(server, inputs[0], 20)
    assert all(counted(server)[name] == 20 for name in inputs), counted(server)
    found = samples(server)
    (info,) = next(v for k, v in found.items() if k.endswith("_reference_info"))
    assert info[0]["stale"] == "false" and info[1] == 1

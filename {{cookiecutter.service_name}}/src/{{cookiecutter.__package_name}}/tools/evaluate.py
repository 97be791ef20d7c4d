"""How good were the answers, once the truth arrived: the prediction log joined
with labels that came later.

`<service>-validate --evaluate LOG LABELS [--field NAME] [--json FILE]`

LOG: the service's log (stdout), whose sampled "prediction" lines hold request_id,
inputs and outputs (PREDICTION_LOG_RATE). LABELS: JSON Lines or CSV, one row per
instance: `request_id`, `index` (the instance's place in a batched request; 0, or
left out, for a single one) and either `label` (classification: accuracy) or
`value` (regression: mean absolute error). The answer compared is the Output field
`--field`, else the first of label/class_name/category/prediction (for `label`) or
value/score/prediction (for `value`). Reported overall, by day (UTC), by predicted
label and by the rule (rules.yaml) that fired on the instance.
"""

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LABEL_FIELDS = ("label", "class_name", "category", "prediction")
VALUE_FIELDS = ("value", "score", "prediction")


def read_labels(path: Path) -> dict[tuple[str, int], Any]:
    """{(request_id, index): label or value} from JSON Lines or CSV."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    found = {}
    for number, row in enumerate(rows, 1):
        if "request_id" not in row or not ({"label", "value"} & row.keys()):
            raise ValueError(f"{path.name} row {number}: needs request_id and label")
        truth = row["label"] if "label" in row else float(row["value"])
        found[str(row["request_id"]), int(row.get("index") or 0)] = truth
    return found


def predictions(path: Path) -> Iterator[dict[str, Any]]:
    """The sampled prediction lines of a service log (other lines are skipped)."""
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("msg") == "prediction":
            yield line


def read_log(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """{(request_id, index): {"day", "output"}} from the sampled prediction lines."""
    found = {}
    for line in predictions(path):
        day = str(line.get("ts", ""))[:10]
        for index, output in enumerate(line.get("outputs", [])):
            found[str(line.get("request_id")), index] = {"day": day, "output": output}
    return found


def evaluate(log: Path, labels: Path, field: str = "") -> dict[str, Any]:
    """Accuracy (labels) or mean absolute error (values): overall, by day, by
    predicted label, by rule fired."""
    truth, logged = read_labels(labels), read_log(log)
    joined = [(logged[key], want) for key, want in truth.items() if key in logged]
    if not joined:
        raise ValueError(
            f"no labelled instance of {labels.name} is in {log.name}: are its"
            " request ids from sampled predictions (PREDICTION_LOG_RATE)?"
        )
    regression = all(isinstance(want, float) for _, want in joined)
    names = VALUE_FIELDS if regression else LABEL_FIELDS
    first = joined[0][0]["output"]
    field = field or next((n for n in names if n in first), "")
    if field not in first:
        raise ValueError(f"the logged outputs have no field {field or names[0]!r}")
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for entry, want in joined:
        got = entry["output"].get(field)
        if regression:
            score = (
                abs(float(got) - want) if isinstance(got, int | float) else float("nan")
            )
        else:
            score = 1.0 if str(got) == str(want) else 0.0
        groups["overall"]["all"].append(score)
        groups["day"][entry["day"]].append(score)
        if not regression:
            groups["predicted"][str(got)].append(score)
        for rule in entry["output"].get("reasons") or ["(no rule)"]:
            groups["rule"][rule].append(score)
    metric = "mean_absolute_error" if regression else "accuracy"
    return {
        "metric": metric,
        "field": field,
        "labelled": len(truth),
        "joined": len(joined),
        **{
            group: {
                key: {"n": len(scores), metric: round(sum(scores) / len(scores), 6)}
                for key, scores in sorted(table.items())
            }
            for group, table in groups.items()
        },
    }


def table(result: dict[str, Any]) -> str:
    """The report as text: one block per grouping."""
    metric = result["metric"]
    lines = [
        f"{result['joined']} of {result['labelled']} labelled instances found in the"
        f" log; {metric.replace('_', ' ')} of Output.{result['field']}:"
    ]
    for group in ("overall", "day", "predicted", "rule"):
        if group not in result:
            continue
        lines.append(f"by {group}:" if group != "overall" else "overall:")
        for key, row in result[group].items():
            lines.append(f"  {key:<30} {row[metric]:>10.4f}   n={row['n']}")
    return "\n".join(lines)

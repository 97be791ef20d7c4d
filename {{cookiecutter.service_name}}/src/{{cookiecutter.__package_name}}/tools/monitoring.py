"""Write the alert rules and the dashboard for this service: `make monitoring`.

python -m <package>.tools.monitoring [options]

writes into deploy/monitoring/ (or --out):
    rules.yml            Prometheus rules (rule_files: in prometheus.yml)
    prometheusrule.yaml  the same groups as a PrometheusRule (Prometheus Operator)
    dashboard.json       a Grafana dashboard (tools/dashboard.py)
Change a threshold with an option (`make monitoring ARGS="--psi-warning 0.2"`) and
commit the result: the files' first line records the options, and the generated
test tests/test_monitoring.py checks the files are what they give.

The drift rules compare the live counts of every watched field (field_values_total)
with the training reference (field_reference_share) over --window: a bin's live share
is its share of the field's counts, and PSI (population stability index) per field is
sum over bins of (live - reference) * ln(live / reference), shares floored at 1e-4.
"""

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from ..config import METRICS_NAMESPACE, SERVICE_NAME
from . import dashboard

FOLDER = Path("deploy/monitoring")
HEADER = "# Written by `make monitoring` (tools/monitoring.py) with "
DEFAULT_OPTIONS = "the default options"
FLOOR = "1e-4"  # shares are floored here so ln() stays finite (PSI's usual choice)

# (option, default, help): every threshold and window, in one place.
SETTINGS = (
    ("window", "1h", "drift window: live shares are counted over this long"),
    ("drift_for", "15m", "how long a drift condition lasts before its alert fires"),
    ("psi_warning", 0.1, "PSI above which a field's drift warns (0.1: a shift)"),
    ("psi_critical", 0.25, "PSI above which it is critical (0.25: a large shift)"),
    ("unseen_share", 0.01, "share of a field's values never seen in training"),
    ("null_margin", 0.05, "null share allowed above the reference's null share"),
    ("out_of_range_share", 0.05, "share of values outside the reference's range"),
    ("invalid_share", 0.05, "share of inputs rejected (422) because of one field"),
    ("ops_window", "5m", "window of the operational alerts (errors, latency...)"),
    ("ops_for", "5m", "how long an operational condition lasts before it fires"),
    ("error_share", 0.05, "share of answers that are 5xx errors (503 aside)"),
    ("overloaded_share", 0.01, "share of instances refused as overloaded (503)"),
    ("p99_seconds", 0.5, "p99 latency of the predict routes, in seconds"),
)
DEFAULTS = {name: default for name, default, _ in SETTINGS}
PREDICT_ROUTES = "/v1/predict|/v2/models/.*/infer"


def promql(text: str, values: dict[str, Any]) -> str:
    """`text` with each <name> replaced by values[name] (ns, window, thresholds)."""
    return re.sub(r"<([a-z0-9_]+)>", lambda m: str(values[m.group(1)]), text).strip()


# Recording rules: (name, expression). live = a bin's share of its field's counts.
RECORDS = (
    (
        "<ns>:field_values:rate",
        "sum by (field, bin) (rate(<ns>_field_values_total[<window>]))",
    ),
    (
        "<ns>:field_reference:share",
        "max by (field, bin) (<ns>_field_reference_share)",
    ),
    (
        "<ns>:field_values:share",
        """
<ns>:field_values:rate
  / ignoring (bin) group_left ()
    (sum by (field) (<ns>:field_values:rate) > 0)
or
  0 * <ns>:field_reference:share
    and on (field) (sum by (field) (<ns>:field_values:rate) > 0)
""",
    ),
    (
        "<ns>:field:psi",
        """
sum by (field) (
  (
    clamp_min(<ns>:field_values:share, <floor>)
    - clamp_min(<ns>:field_reference:share, <floor>)
  )
  * ln(
    clamp_min(<ns>:field_values:share, <floor>)
    / clamp_min(<ns>:field_reference:share, <floor>)
  )
)
""",
    ),
)

# Alerts: (name, severity, expression, for, summary, description). The description
# says what to check first. {{ }} is Prometheus' templating, filled when it fires.
DRIFT = (
    (
        "FieldDriftCritical",
        "critical",
        '<ns>:field:psi{field!~"output[.].*"} > <psi_critical>',
        "Input field {{ $labels.field }} is far from its training distribution",
        'PSI {{ $value | printf "%.2f" }} over <window>. Compare its live and '
        "training shares (`<service>-validate URL --drift`); look first at what "
        "changed upstream: units, a new source, a swapped or renamed column.",
    ),
    (
        "FieldDrift",
        "warning",
        '<ns>:field:psi{field!~"output[.].*"} > <psi_warning>',
        "Input field {{ $labels.field }} drifts from its training distribution",
        'PSI {{ $value | printf "%.2f" }} over <window>. Run '
        "`<service>-validate URL --drift` to see which bins moved; a real change "
        "in the population calls for retraining, a pipeline change for a fix there.",
    ),
    (
        "OutputDrift",
        "warning",
        '<ns>:field:psi{field=~"output[.].*"} > <psi_warning>',
        "The model's {{ $labels.field }} drifts from what it answered in training",
        'PSI {{ $value | printf "%.2f" }} over <window>. The answers moved: check '
        "the input drift alerts first (a broken input usually explains it), then "
        "the model version and rules.yaml that serve.",
    ),
    (
        "FieldUnseenValues",
        "warning",
        'sum by (field) (<ns>:field_values:share{bin="_unseen"}) > <unseen_share>',
        "{{ $labels.field }} receives values never seen in training",
        "{{ $value | humanizePercentage }} of its values over <window> are new. "
        "`<service>-validate URL --drift` lists the top unseen values: a new "
        "category, a renamed one, or a change of case or encoding upstream.",
    ),
    (
        "FieldNulls",
        "warning",
        """
sum by (field) (
  <ns>:field_values:share{bin="_null"}
  - on (field, bin) <ns>:field_reference:share{bin="_null"}
)
> <null_margin>
""",
        "{{ $labels.field }} arrives null or missing more often than in training",
        "{{ $value | humanizePercentage }} more nulls than in training over "
        "<window>. Check the upstream source of this field: a failed join, a "
        "renamed column or a stage that stopped filling it.",
    ),
    (
        "FieldOutOfRange",
        "warning",
        'sum by (field) (<ns>:field_values:share{bin=~"_below|_above"})\n'
        "  > <out_of_range_share>",
        "{{ $labels.field }} is outside its training range",
        "{{ $value | humanizePercentage }} of its values over <window> are below "
        "the training minimum or above its maximum. Check units and scale first "
        "(pence for pounds, ms for s), then two fields swapped.",
    ),
    (
        "InvalidInputs",
        "warning",
        """
sum by (field) (rate(<ns>_invalid_inputs_total[<window>]))
  / on () group_left ()
  (
    sum(rate(<ns>_invalid_inputs_total[<window>]))
    + (sum(rate(<ns>_predictions_total[<window>])) or vector(0))
  )
> <invalid_share>
""",
        "Inputs are rejected (422) because of {{ $labels.field }}",
        "{{ $value | humanizePercentage }} of inputs over <window> were invalid in "
        "this field. The request log names the problem; a client sends the wrong "
        "type or leaves the field out: fix the caller, not the schema.",
    ),
)
OPERATIONAL = (
    (
        "ErrorRate",
        "critical",
        """
sum(rate(<ns>_http_requests_total{status=~"5..", status!="503"}[<ops_window>]))
  / sum(rate(<ns>_http_requests_total[<ops_window>]))
> <error_share>
""",
        "<service> answers {{ $value | humanizePercentage }} with server errors",
        "Read the error lines of the service's log (they carry the stack traces); "
        "a 500 is an exception in predict() or rules.yaml, a 504 a predict timeout.",
    ),
    (
        "LatencyHigh",
        "warning",
        f"""
histogram_quantile(0.99, sum by (le) (rate(
  <ns>_http_request_duration_seconds_bucket{{route=~"{PREDICT_ROUTES}"}}[<ops_window>]
)))
> <p99_seconds>
""",
        "<service>'s p99 latency is {{ $value | humanizeDuration }}",
        "Compare queue wait and predict time on the dashboard: a long queue wait "
        "asks for more replicas (or WORKERS), a slow predict for a look at the "
        "model or the batch size (MAX_BATCH_SIZE).",
    ),
    (
        "NotReady",
        "critical",
        "<ns>_model_ready == 0 or absent(<ns>_model_ready)",
        "<service> is not ready (or not scraped)",
        "No model serves here: read the start-up log for the load error "
        "(artifacts missing, a bad setting) and check the pods and the scrape "
        "target; absent means Prometheus gets no metrics from the service at all.",
    ),
    (
        "Overloaded",
        "warning",
        """
sum(rate(<ns>_predictions_total{outcome="overloaded"}[<ops_window>]))
  / sum(rate(<ns>_predictions_total[<ops_window>]))
> <overloaded_share>
""",
        "<service> refuses {{ $value | humanizePercentage }} of instances (503)",
        "The batch queue is full: add replicas (check the autoscaler's limits) or "
        "WORKERS, or raise MAX_QUEUE if the latency allows; then look for a caller "
        "sending bursts.",
    ),
)


def alert(rule: tuple, values: dict[str, Any], duration: str) -> dict[str, Any]:
    name, severity, expr, summary, description = rule
    return {
        "alert": name,
        "expr": promql(expr, values),
        "for": duration,
        "labels": {"severity": severity, "service": values["service"]},
        "annotations": {
            "summary": promql(summary, values),
            "description": promql(description, values),
        },
    }


def groups(**settings: Any) -> list[dict[str, Any]]:
    """The rule groups, with these settings (DEFAULTS for the others)."""
    values = {**DEFAULTS, **settings}
    values |= {"ns": METRICS_NAMESPACE, "service": SERVICE_NAME, "floor": FLOOR}
    records = [
        {"record": promql(name, values), "expr": promql(expr, values)}
        for name, expr in RECORDS
    ]
    drift = [alert(rule, values, values["drift_for"]) for rule in DRIFT]
    ops = [alert(rule, values, values["ops_for"]) for rule in OPERATIONAL]
    return [
        {"name": f"{SERVICE_NAME}-drift", "rules": records + drift},
        {"name": f"{SERVICE_NAME}-operational", "rules": ops},
    ]


def _block(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None  # multi-line PromQL stays readable
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


class Dumper(yaml.SafeDumper):
    pass


Dumper.add_representer(str, _block)


def dump(document: object) -> str:
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, width=10_000)


def files(**settings: Any) -> dict[str, str]:
    """File name -> content, as `make monitoring` writes them with these settings."""
    rule_groups = groups(**settings)
    operator = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": SERVICE_NAME,
            "labels": {"app.kubernetes.io/name": SERVICE_NAME},
        },
        "spec": {"groups": rule_groups},
    }
    changed = [
        f"--{name.replace('_', '-')} {value}"
        for name, value in settings.items()
        if value != DEFAULTS[name]
    ]
    header = f"{HEADER}{' '.join(changed) or DEFAULT_OPTIONS}\n"
    board = dashboard.dashboard(METRICS_NAMESPACE, SERVICE_NAME)
    return {
        "rules.yml": header + dump({"groups": rule_groups}),
        "prometheusrule.yaml": header + dump(operator),
        "dashboard.json": json.dumps(board, indent=2) + "\n",
    }


def duration(text: str) -> str:
    """A Prometheus duration (90s, 15m, 1h30m), or a clear argparse error."""
    if not re.fullmatch(r"(\d+(ms|[smhdwy]))+", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration like 90s, 15m, 1h"
        )
    return text


def share(text: str) -> float:
    """A number of at least 0 (a share, a PSI, seconds)."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of at least 0")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make monitoring",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=FOLDER, help="default: %(default)s")
    for name, default, text in SETTINGS:
        option = "--" + name.replace("_", "-")
        parser.add_argument(
            option,
            type=duration if isinstance(default, str) else share,
            default=default,
            metavar="DURATION" if isinstance(default, str) else "NUMBER",
            help=f"{text} ({default})",
        )
    return parser


def written_with(folder: Path = FOLDER) -> dict[str, Any]:
    """The settings the files in `folder` were written with (from their header)."""
    first = (folder / "rules.yml").read_text(encoding="utf-8").partition("\n")[0]
    options = first.removeprefix(HEADER).removesuffix(DEFAULT_OPTIONS)
    settings = vars(parser().parse_args(shlex.split(options)))
    del settings["out"]
    return settings


def main(argv: list[str] | None = None) -> None:
    settings = vars(parser().parse_args(argv))
    folder = settings.pop("out")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files(**settings).items():
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {folder / name}", file=sys.stderr)


if __name__ == "__main__":
    main()

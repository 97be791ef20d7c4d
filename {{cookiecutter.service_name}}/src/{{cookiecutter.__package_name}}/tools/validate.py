"""Run validation/cases.yaml in-process or against a live URL; answer one-off questions.

Usage: `make validate [URL=...]`, or `python -m <package>.tools.validate`:
  [URL]                       the cases, against URL (default: in this process)
  --json FILE --junit FILE    also write the results for CI
  --webhook URL               post a summary to chat (or set CHAT_WEBHOOK_URL)
  [URL] --ask INPUT --target VALUE    where is VALUE in the answer to INPUT (JSON)?
  [URL] --parity [FILE]       does it reproduce artifacts/parity.json?
  --draft LOG                 logged predictions -> draft cases (YAML on stdout)
  URL --drift [--window S]    which input field drifted from the training reference
                              (tools/drift.py); exit 1 when one did
  --evaluate LOG LABELS [--field NAME]
                              accuracy or error of logged predictions against
                              labels that came later (tools/evaluate.py)
  --compare URL_A URL_B [--replay FILE] [--min-agreement 0.95]
                              the cases' inputs (or FILE's: a prediction log, JSON,
                              JSONL) to both; where they differ (tools/compare.py)
Exit status: 0 all passed, 1 a case failed (or agreement under --min-agreement),
2 could not run (bad file, no service).
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

import yaml

from ..config import PACKAGE_NAME, SERVICE_NAME
from . import cases, drift, evaluate, reports
from .cases import Case, CaseError
from .reports import Check, Report, Result


class CannotRun(Exception):
    """The validation cannot start (no service, not ready, bad input): exit 2."""


class PredictFailed(Exception):
    """The service answered a case with an error."""


class Target(Protocol):
    name: str

    def describe(self) -> dict[str, Any]: ...  # model_version, artifact_digest

    def predict(self, instances: list[dict], batched: bool) -> list[dict]: ...


class Live:
    """A running service, over HTTP."""

    def __init__(self, url: str, token: str = "", timeout: float = 30) -> None:
        self.name, self.timeout = url.rstrip("/"), timeout
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def _call(self, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.name + path, data, self.headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            return json.load(answer)

    def describe(self) -> dict[str, Any]:
        try:
            meta = self._call("/v1/model")
        except urllib.error.HTTPError as error:
            raise CannotRun(f"{self.name}/v1/model answered {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise CannotRun(f"cannot reach {self.name}: {reason}") from None
        if not meta.get("ready"):
            raise CannotRun(f"{self.name} is not ready (see {self.name}/readyz)")
        return meta

    def predict(self, instances: list[dict], batched: bool) -> list[dict]:
        body = {"instances": instances} if batched else instances[0]
        try:
            answer = self._call("/v1/predict", body)
        except urllib.error.HTTPError as error:
            try:
                problem = json.loads(error.read())["error"]
                detail = f"{problem['code']}: {problem['message']}"
                if problem.get("details"):
                    detail += f" {json.dumps(problem['details'])}"
            except (ValueError, KeyError, TypeError):
                detail = error.reason
            raise PredictFailed(f"{error.code} {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PredictFailed(f"no answer: {reason}") from None
        return answer["predictions"] if batched else [answer]


class InProcess:
    """The model of this folder, loaded here as a worker would load it."""

    name = "in-process"

    def __init__(self) -> None:
        from ..serving.rules import RulesError
        from ..serving.runtime import Runtime
        from ..serving.settings import Settings, SettingsError

        try:  # the same Runtime as a worker's: model, checks and rules.yaml
            self.runtime = Runtime(Settings.from_env())
        except (SettingsError, RulesError) as error:
            raise CannotRun(str(error)) from None
        self.runtime.load()
        if not self.runtime.ready:
            raise CannotRun(f"the model is not ready: {self.runtime.reason}")

    def describe(self) -> dict[str, Any]:
        return {
            "model_version": self.runtime.version,
            "artifact_digest": self.runtime.digest,
            "rules_digest": self.runtime.rules.digest,
        }

    def predict(self, instances: list[dict], batched: bool) -> list[dict]:
        from pydantic import ValidationError

        from ..model import Input
        from ..serving.rules import RuleFailed

        try:
            inputs = [Input.model_validate(x) for x in instances]
        except ValidationError as error:
            raise PredictFailed(f"422 invalid_input: {error}") from None
        try:
            results = self.runtime.predict(inputs)
        except RuleFailed as error:
            raise PredictFailed(f"500 rule_failed: {error}") from None
        except Exception as error:
            raise PredictFailed(f"500 predict_failed: {error!r}") from None
        return [answer.model_dump(mode="json") for answer, _ in results]


def stale_example(case: Case) -> str | None:
    """Why the template's example case (`example: true`) no longer fits model.py, or
    None. Such a case is skipped with this note, not failed; cases of yours all run."""
    if not case.example:
        return None
    from pydantic import ValidationError

    try:
        from ..model import Input, Output
    except ImportError:
        return None  # cannot tell here: run it
    try:
        for instance in case.instances:
            Input.model_validate(instance)
    except ValidationError as error:
        first = error.errors()[0]
        field = f"{first['loc'][0]}: " if first["loc"] else ""
        problem = f"Input: {field}{first['msg']}"
    else:
        fields = {e.field.split(".")[0] for e in case.expectations if e.field}
        missing = sorted(fields - set(Output.model_fields))
        if not missing:
            return None
        problem = f"Output has no field {missing[0]!r}"
    return (
        f"skipped {case.name!r} (line {case.line}), the template's example: it does not"
        f" fit model.py ({problem}); delete it from the cases or write one of yours"
    )


def run_case(target: Target, case: Case) -> Result:
    """Send the case's input once and check every expectation on the answer."""
    started = perf_counter()
    try:
        outputs = target.predict(case.instances, case.batched)
    except PredictFailed as error:
        return Result(case, (perf_counter() - started) * 1000, error=str(error))
    result = Result(case, (perf_counter() - started) * 1000)
    for expectation in case.expectations:
        if expectation.instance is None:
            indexes = range(len(outputs))
        else:
            indexes = range(expectation.instance, expectation.instance + 1)
        for i in indexes:
            passed, got = expectation.check(outputs[i])
            label = expectation.describe()
            if case.batched and expectation.instance is None:
                label += f" [{i}]"
            result.checks.append(Check(label, got, passed))
    if case.latency_ms is not None:
        budget = f"latency <= {case.latency_ms} ms"
        ms = round(result.latency_ms, 1)
        result.checks.append(Check(budget, ms, result.latency_ms <= case.latency_ms))
    return result


def run(target: Target, selected: list[Case]) -> Report:
    """Every case, one after the other (so latencies are not inflated by each other)."""
    described = target.describe()
    version = described.get("model_version", "")
    if rules := described.get("rules_digest"):
        version += f", rules {rules[:12]}"
    started = perf_counter()
    results = [run_case(target, case) for case in selected]
    return Report(target.name, version, results, perf_counter() - started)


def where(data: Any, wanted: Any, path: str = "") -> list[str]:
    """Every place `wanted` shows up in an answer: a field's value, or a rank."""
    found = []
    if isinstance(data, dict | list):
        position, size = cases.rank(data, wanted)
        if position is None and isinstance(data, list):  # objects naming the item
            named = [isinstance(x, dict) and wanted in x.values() for x in data]
            position = named.index(True) + 1 if any(named) else None
            size = len(data)
        if position is not None:
            line = f"{path or 'output'}: rank {position} of {size}"
            if isinstance(data, dict):
                key = next(k for k in data if cases.same(k, wanted))
                line += f", score {data[key]}"
            elif all(cases.number(x) for x in data):
                line += f", score {data[int(wanted)]}"
            found.append(line)
        children = data.items() if isinstance(data, dict) else enumerate(data)
        for key, value in children:
            found += where(value, wanted, f"{path}.{key}".lstrip("."))
    elif cases.same(data, wanted):
        found.append(f"{path or 'output'} = {data!r}")
    return found


def ask(target: Target, instance: dict, wanted: Any) -> int:
    """Print where `wanted` is in the answer to `instance`; 1 when it is nowhere."""
    try:
        output = target.predict([instance], batched=False)[0]
    except PredictFailed as error:
        raise CannotRun(f"the service answered {error}") from None
    print(json.dumps(output, indent=2))
    found = where(output, wanted)
    for line in found:
        print(f"{wanted!r} -> {line}")
    if not found:
        print(f"{wanted!r} is not in the answer")
    return 0 if found else 1


def draft(log_file: Path) -> str:
    """Draft cases (YAML) from logged predictions: what the service answered then."""
    drafted, skipped = [], 0
    for line in evaluate.predictions(log_file):
        if "[redacted]" in json.dumps(line["inputs"]):
            skipped += 1  # a redacted input cannot be sent again
            continue
        many = len(line["inputs"]) > 1
        expect = [
            _draft_expectation(name, value, i if many else None)
            for i, output in enumerate(line["outputs"])
            for name, value in output.items()
            if value != "[redacted]"
        ]
        drafted.append(
            {
                "name": f"logged-{line.get('request_id', len(drafted))}",
                "input": line["inputs"] if many else line["inputs"][0],
                "expect": expect,
            }
        )
    header = (
        f"# {len(drafted)} cases drafted from {log_file.name}: the answers the service"
        f" gave then ({skipped} with redacted inputs skipped).\n# Check each one, then"
        " move it into validation/cases.yaml.\n"
    )
    body = yaml.safe_dump(
        {"cases": drafted}, sort_keys=False, allow_unicode=True, default_flow_style=None
    )
    return header + body


def _draft_expectation(name: str, value: Any, instance: int | None) -> dict:
    floats = "." in json.dumps(value)  # approx for anything holding a float
    item: dict[str, Any] = {"field": name}
    if isinstance(value, float) or (floats and isinstance(value, dict | list)):
        item.update(approx=value, tolerance=1e-6)
    else:
        item["equals"] = value
    if instance is not None:
        item["instance"] = instance
    return item


def check_parity(target: Target, path: Path) -> int:
    """Does the target reproduce a parity record? Print each mismatch."""
    from ..serving.parity import compare, read

    record = read(path)
    digest = target.describe().get("artifact_digest")
    skipped: list[str] = []
    problems = compare(
        record, lambda xs: target.predict(xs, batched=True), digest, skipped
    )
    for note in skipped:
        print(f"SKIP {note}")
    for problem in problems:
        print(f"FAIL {problem}")
    count = len(record["cases"])
    print(f"parity: {count} recorded cases, {len(problems)} problems ({target.name})")
    return 1 if problems else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from ..serving.settings import Settings

    settings = Settings.from_env()
    parser = argparse.ArgumentParser(
        prog=f"{SERVICE_NAME}-validate",
        description="Check the service against validation/cases.yaml.",
    )
    parser.add_argument("url", nargs="?", help="a live service (default: in-process)")
    parser.add_argument("--cases", type=Path, default=cases.CASES_FILE)
    parser.add_argument("--only", action="append", help="run only this case (repeat)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--junit", type=Path, help="write JUnit XML here (for CI)")
    parser.add_argument(
        "--webhook",
        default=settings.chat_webhook_url,
        help="chat incoming-webhook URL for a summary (env CHAT_WEBHOOK_URL)",
    )
    parser.add_argument("--token", default=settings.api_token)
    parser.add_argument("--ask", metavar="INPUT", help="one input, as JSON")
    parser.add_argument("--target", help="with --ask: the value to look for")
    parser.add_argument("--parity", nargs="?", const="artifacts/parity.json", type=Path)
    parser.add_argument("--draft", metavar="LOG", type=Path)
    parser.add_argument("--compare", nargs=2, metavar=("URL_A", "URL_B"))
    parser.add_argument("--replay", metavar="FILE", type=Path, help="with --compare")
    parser.add_argument("--min-agreement", type=float, default=0.0, metavar="SHARE")
    parser.add_argument("--drift", action="store_true", help="with URL: see above")
    parser.add_argument("--window", type=float, default=0, metavar="SECONDS")
    parser.add_argument("--evaluate", nargs=2, type=Path, metavar=("LOG", "LABELS"))
    parser.add_argument("--field", default="", help="with --evaluate: Output field")
    return parser.parse_args(argv)


def check_drift(args: argparse.Namespace) -> int:
    """URL --drift: the drift report; 1 when a field drifted (tools/drift.py)."""
    if not args.url:
        raise CannotRun("--drift needs the URL of a live service")
    found, rows = drift.run(args.url, args.token, args.window)
    print(drift.table(rows, found, args.url))
    if args.json:
        result = {
            "verdict": drift.verdict(rows),
            "reference": found.info,
            "fields": rows,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.webhook:
        problem = reports.post(args.webhook, drift.chat_message(rows, args.url))
        print(f"chat: {problem or 'summary posted'}", file=sys.stderr)
    return 1 if any(r["rank"] >= drift.WARN for r in rows) else 0


def check_evaluation(args: argparse.Namespace) -> int:
    """--evaluate LOG LABELS: the answers' accuracy or error (tools/evaluate.py)."""
    result = evaluate.evaluate(*args.evaluate, field=args.field)
    print(evaluate.table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def compare_services(args: argparse.Namespace, selected: list[Case]) -> int:
    """--compare: the same inputs to both services; 1 under --min-agreement."""
    from ..serving.settings import Settings
    from . import compare

    inputs = compare.from_cases(selected)
    if args.replay:
        inputs = compare.read_inputs(args.replay)
    if not inputs:
        raise CannotRun(f"no inputs to send in {args.replay or args.cases}")
    a, b = (Live(url, args.token) for url in args.compare)
    a.describe(), b.describe()  # both up and ready, or CannotRun
    answers = partial(answer_or_error, a), partial(answer_or_error, b)
    result = compare.run((a.name, b.name), answers, inputs, Settings.from_env())
    print(compare.table(result))
    if args.json:
        args.json.write_text(json.dumps(compare.as_json(result), indent=2) + "\n")
    if args.junit:
        suite = f"{PACKAGE_NAME}.compare"
        args.junit.write_bytes(compare.as_junit(result, suite, args.min_agreement))
    if args.webhook:
        message = compare.chat_message(result, args.min_agreement)
        problem = reports.post(args.webhook, message)
        print(f"chat: {problem or 'summary posted'}", file=sys.stderr)
    return 1 if result.rate < args.min_agreement else 0


def answer_or_error(target: Target, instance: dict) -> dict:
    """The target's answer to one input, or {"error": what it answered instead}."""
    try:
        return target.predict([instance], batched=False)[0]
    except PredictFailed as error:
        return {"error": str(error)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.draft:
            print(draft(args.draft), end="")
            return 0
        if args.drift:
            return check_drift(args)
        if args.evaluate:
            return check_evaluation(args)
        selected: list[Case] = []
        if args.compare and args.replay:
            return compare_services(args, selected)
        if not (args.ask or args.parity):
            selected = cases.load(args.cases)
            if args.only:
                selected = [c for c in selected if c.name in args.only]
            notes = {c.name: note for c in selected if (note := stale_example(c))}
            for note in notes.values():
                print(f"note: {note}", file=sys.stderr)
            selected = [c for c in selected if c.name not in notes]
            if not selected:
                print(f"no cases to run in {args.cases}")
                return 0
        if args.compare:
            return compare_services(args, selected)
        target = Live(args.url, args.token) if args.url else InProcess()
        if args.ask:
            if args.target is None:
                raise CannotRun("--ask needs --target VALUE")
            wanted = yaml.safe_load(args.target)  # `3` is a number, `cat` a string
            return ask(target, json.loads(args.ask), wanted)
        if args.parity:
            return check_parity(target, args.parity)
        report = run(target, selected)
    except (CaseError, CannotRun, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(reports.table(report))
    if args.json:
        args.json.write_text(json.dumps(reports.as_json(report), indent=2) + "\n")
    if args.junit:
        args.junit.write_bytes(reports.as_junit(report, f"{PACKAGE_NAME}.validation"))
    if args.webhook:
        problem = reports.post(args.webhook, reports.chat_message(report))
        print(f"chat: {problem or 'summary posted'}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Send the same inputs to two live services and report where their answers differ.

`<service>-validate --compare URL_A URL_B [--replay FILE]`: the inputs are the golden
cases, or FILE: a prediction log (PREDICTION_LOG_RATE), a JSON list of inputs or one
input per line (JSONL). Answers are compared as the shadow does (serving/shadow.py:
SHADOW_TOLERANCE for numbers, SHADOW_RANK_TOP for scores and ranked lists).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any
from xml.etree import ElementTree as ET

from ..serving.settings import Settings
from ..serving.shadow import compare
from .cases import Case

Answer = Callable[[dict], dict]  # one input -> the answer, or {"error": ...}


@dataclass
class Comparison:
    """What two services answered to the same inputs."""

    a: str
    b: str
    total: int = 0
    agree: int = 0
    errors: int = 0
    latencies: tuple[list[float], list[float]] = ([], [])  # ms, per service
    differ: dict[str, int] = field(default_factory=dict)  # field -> disagreements
    largest: dict[str, float] = field(default_factory=dict)  # field -> max difference
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.agree / self.total if self.total else 1.0


def read_inputs(path: Path) -> list[dict]:
    """Inputs from a prediction log, a JSON list, or JSONL; redacted ones skipped."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    found: list[dict] = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # not JSON: another process's output in the log
        if not isinstance(item, dict):
            continue
        if item.get("msg") == "prediction" and "inputs" in item:
            if "[redacted]" not in json.dumps(item["inputs"]):
                found += item["inputs"]
        elif "msg" not in item:
            found.append(item)
    return found


def from_cases(selected: list[Case]) -> list[dict]:
    return [instance for case in selected for instance in case.instances]


def run(
    names: tuple[str, str],
    targets: tuple[Answer, Answer],
    inputs: list[dict],
    settings: Settings,
) -> Comparison:
    """Each input to A, then to B, one at a time; compared as the shadow does."""
    result = Comparison(*names)
    for instance in inputs:
        answers = []
        for answer, latencies in zip(targets, result.latencies, strict=True):
            started = perf_counter()
            answers.append(answer(instance))
            latencies.append((perf_counter() - started) * 1000)
        result.total += 1
        if any(set(answer) == {"error"} for answer in answers):
            result.errors += 1
        differ, differences = compare(
            *answers, settings.shadow_tolerance, settings.shadow_rank_top
        )
        for name, difference in differences.items():
            result.largest[name] = max(result.largest.get(name, 0.0), difference)
        for name in differ:
            result.differ[name] = result.differ.get(name, 0) + 1
        if not differ:
            result.agree += 1
            continue
        result.disagreements.append(
            {"input": instance, "fields": differ, "a": answers[0], "b": answers[1]}
        )
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def summary(result: Comparison) -> str:
    return (
        f"{result.agree}/{result.total} agree ({result.rate:.1%}),"
        f" {result.errors} errors: {result.a} vs {result.b}"
    )


def table(result: Comparison, top: int = 5) -> str:
    lines = [summary(result), "", "field          disagree   largest difference"]
    for name in sorted(result.differ.keys() | result.largest.keys()):
        largest = result.largest.get(name)
        shown = "" if largest is None else f"{largest:.6g}"
        lines.append(f"{name:<14} {result.differ.get(name, 0):>8}   {shown}")
    width = max(len(result.a), len(result.b))
    lines += ["", f"{'latency ms':<{width}}      p50      p99"]
    for name, latencies in zip((result.a, result.b), result.latencies, strict=True):
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        lines.append(f"{name:<{width}}  {p50:>7.1f}  {p99:>7.1f}")
    if result.disagreements:
        lines += ["", f"first {min(top, len(result.disagreements))} disagreements:"]
    for item in result.disagreements[:top]:
        lines.append(f"  input {json.dumps(item['input'])}")
        lines.append(f"    A {json.dumps(item['a'])}")
        lines.append(f"    B {json.dumps(item['b'])}")
    return "\n".join(lines)


def as_json(result: Comparison) -> dict[str, Any]:
    return {
        "a": result.a,
        "b": result.b,
        "total": result.total,
        "agree": result.agree,
        "errors": result.errors,
        "agreement": result.rate,
        "fields": {
            name: {"disagree": result.differ.get(name, 0), "largest": largest}
            for name in sorted(result.differ.keys() | result.largest.keys())
            for largest in [result.largest.get(name)]
        },
        "latency_ms": {
            side: {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99)}
            for side, values in zip("ab", result.latencies, strict=True)
        },
        "disagreements": result.disagreements,
    }


def as_junit(result: Comparison, suite: str, minimum: float) -> bytes:
    failed = result.rate < minimum
    root = ET.Element("testsuite", name=suite, tests="1", failures=str(int(failed)))
    case = ET.SubElement(root, "testcase", classname=suite, name="agreement")
    if failed:
        message = f"agreement {result.rate:.1%} is under {minimum:.1%}"
        ET.SubElement(case, "failure", message=message).text = summary(result)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def chat_message(result: Comparison, minimum: float) -> dict[str, Any]:
    verdict = "❌ Compare FAILED" if result.rate < minimum else "✅ Compare"
    return {"text": f"{verdict}: {summary(result)}"}

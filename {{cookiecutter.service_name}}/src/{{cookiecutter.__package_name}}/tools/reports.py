"""Validation results: the table, JSON and JUnit XML files, and the chat summary."""

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from .cases import Case


@dataclass
class Check:
    """One expectation (or the latency budget) against one answer."""

    expectation: str
    got: Any
    passed: bool


@dataclass
class Result:
    """A case run once: its checks, or the error that stopped it."""

    case: Case
    latency_ms: float
    checks: list[Check] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and all(c.passed for c in self.checks)

    def failures(self) -> list[str]:
        if self.error:
            return [f"request failed: {self.error}"]
        return [
            f"expected {c.expectation}, got {short(c.got)}"
            for c in self.checks
            if not c.passed
        ]


@dataclass
class Report:
    """Every result of one run, and where it ran."""

    target: str
    model_version: str
    results: list[Result]
    seconds: float

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        passed = len(self.results) - len(self.failed)
        return (
            f"{passed} passed, {len(self.failed)} failed of {len(self.results)} cases"
            f" against {self.target} (model {self.model_version})"
            f" in {self.seconds:.2f} s"
        )


def short(value: Any, width: int = 48) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def table(report: Report) -> str:
    """A plain-text table: case, expectation, got, result, latency."""
    rows = [("case", "expectation", "got", "result", "ms")]
    for result in report.results:
        ms = f"{result.latency_ms:.1f}"
        if result.error:
            rows.append((result.case.name, "answers", short(result.error), "FAIL", ms))
        for check in result.checks:
            verdict = "pass" if check.passed else "FAIL"
            expected, got = short(check.expectation), short(check.got)
            rows.append((result.case.name, expected, got, verdict, ms))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n\n" + report.summary()


def as_json(report: Report) -> dict[str, Any]:
    return {
        "target": report.target,
        "model_version": report.model_version,
        "passed": len(report.results) - len(report.failed),
        "failed": len(report.failed),
        "seconds": round(report.seconds, 3),
        "cases": [
            {
                "name": r.case.name,
                "line": r.case.line,
                "passed": r.passed,
                "latency_ms": round(r.latency_ms, 3),
                "error": r.error or None,
                "checks": [
                    {"expectation": c.expectation, "got": c.got, "passed": c.passed}
                    for c in r.checks
                ],
            }
            for r in report.results
        ],
    }


def as_junit(report: Report, suite: str) -> bytes:
    """JUnit XML: one testcase per case, so CI shows each failing case by name."""
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(report.results)),
        failures=str(len(report.failed)),
        time=f"{report.seconds:.3f}",
    )
    for result in report.results:
        case = ET.SubElement(
            root,
            "testcase",
            classname=suite,
            name=result.case.name,
            time=f"{result.latency_ms / 1000:.4f}",
        )
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.failures()[0])
            failure.text = "\n".join(result.failures())
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def chat_message(report: Report, limit: int = 10) -> dict[str, Any]:
    """A Slack incoming-webhook message: text plus blocks."""
    verdict = "❌ Validation FAILED" if report.failed else "✅ Validation passed"
    headline = f"{verdict}: {report.summary()}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"URL: {report.target}"},
                {"type": "mrkdwn", "text": f"model version: {report.model_version}"},
            ],
        },
    ]
    for result in report.failed[:limit]:
        lines = "\n".join(f"• {line}" for line in result.failures())
        text = f"*{result.case.name}* (line {result.case.line})\n{lines}"[:2900]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if len(report.failed) > limit:
        more = f"... and {len(report.failed) - limit} more failing cases"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    return {"text": headline, "blocks": blocks}


def post(url: str, message: dict[str, Any], timeout: float = 10) -> str:
    """POST the message to a chat webhook; '' when it worked, else what went wrong."""
    request = urllib.request.Request(
        url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return ""
    except urllib.error.HTTPError as error:
        return f"the webhook answered {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"cannot reach the webhook: {getattr(error, 'reason', error)}"

"""Which input went wrong: a live service's values against its training reference.

`<service>-validate URL --drift [--window SECONDS] [--json FILE]` reads URL/metrics
(the counts of serving/reference.py) and prints, per field, the drift score (PSI),
nulls, values out of the training range, values never seen in training and inputs
rejected for that field, ranked, then one line naming the field most likely broken.
Without --window it compares everything counted since the workers started; with it,
only what arrived between two scrapes SECONDS apart.

PSI (population stability index) over a field's bins, each share at least 1e-4:
sum((live - reference) * ln(live / reference)). Under 0.1: no real change; 0.1 to
0.25: a shift worth a look; over 0.25: the field changed.
"""

import math
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from ..config import METRICS_NAMESPACE as NS

WARN, ALERT = 0.1, 0.25  # PSI: worth a look, changed
FLOOR = 1e-4  # the smallest share in PSI, as in the alert rules


@dataclass
class Scrape:
    """The drift metrics of one /metrics page, summed over workers."""

    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    reference: dict[str, dict[str, float]] = field(default_factory=dict)
    unseen: dict[str, dict[str, float]] = field(default_factory=dict)
    invalid: dict[str, float] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    def minus(self, before: "Scrape") -> "Scrape":
        """The counts made since `before` (a scrape of the same service)."""

        def less(now: dict, then: dict) -> dict:
            return {
                name: {k: v - then.get(name, {}).get(k, 0) for k, v in bins.items()}
                for name, bins in now.items()
            }

        invalid = {k: v - before.invalid.get(k, 0) for k, v in self.invalid.items()}
        counts, unseen = (
            less(self.counts, before.counts),
            less(self.unseen, before.unseen),
        )
        return Scrape(counts, self.reference, unseen, invalid, self.info)


def parse(text: str) -> Scrape:
    """The drift metrics in a Prometheus text page."""
    found = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels, value = sample.labels, sample.value
            if sample.name == f"{NS}_field_values_total":
                _add(found.counts, labels["field"], labels["bin"], value)
            elif sample.name == f"{NS}_field_reference_share":
                found.reference.setdefault(labels["field"], {})[labels["bin"]] = value
            elif sample.name == f"{NS}_field_unseen_values_total":
                _add(found.unseen, labels["field"], labels["value"], value)
            elif sample.name == f"{NS}_invalid_inputs_total":
                found.invalid[labels["field"]] = value
            elif sample.name == f"{NS}_reference_info" and value:
                found.info = dict(labels)
    return found


def _add(table: dict[str, dict[str, float]], name: str, key: str, value: float) -> None:
    bins = table.setdefault(name, {})
    bins[key] = bins.get(key, 0) + value


def scrape(url: str, token: str = "") -> Scrape:
    """GET url/metrics; OSError when the service cannot be reached."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url.rstrip("/") + "/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return parse(answer.read().decode())


def psi(live: dict[str, float], reference: dict[str, float]) -> float:
    """The population stability index of live shares against reference shares."""
    total = 0.0
    for name in reference.keys() | live.keys():
        a, b = max(live.get(name, 0), FLOOR), max(reference.get(name, 0), FLOOR)
        total += (a - b) * math.log(a / b)
    return total


def diagnose(found: Scrape) -> list[dict[str, Any]]:
    """Every field with live values, most likely broken first."""
    rows = []
    for name, reference in found.reference.items():
        counts = found.counts.get(name, {})
        live_total = sum(counts.values())
        path = ".".join(p for p in name.split(".") if not p.isdigit())
        invalid = 0.0 if name.startswith("output.") else found.invalid.get(path, 0)
        if live_total + invalid <= 0:
            continue
        live = {k: v / live_total for k, v in counts.items()} if live_total else {}
        excess_null = max(0.0, live.get("_null", 0) - reference.get("_null", 0))
        out_of_range = live.get("_below", 0) + live.get("_above", 0)
        unseen_share = live.get("_unseen", 0)
        invalid_share = invalid / (invalid + live_total)
        score = psi(live, reference) if live_total else 0.0
        signals = out_of_range + unseen_share + excess_null + invalid_share
        unseen = found.unseen.get(name, {})
        rows.append(
            {
                "field": name,
                "psi": round(score, 4),
                "count": int(live_total),
                "null": round(live.get("_null", 0), 4),
                "reference_null": reference.get("_null", 0),
                "out_of_range": round(out_of_range, 4),
                "below": round(live.get("_below", 0), 4),
                "above": round(live.get("_above", 0), 4),
                "unseen": round(unseen_share, 4),
                "top_unseen": sorted(unseen, key=lambda v: -unseen[v])[:5],
                "invalid": int(invalid),
                "invalid_share": round(invalid_share, 4),
                "rank": score + 2 * signals,
                "shares": {
                    bin_: {"reference": share, "live": round(live.get(bin_, 0), 4)}
                    for bin_, share in reference.items()
                },
            }
        )
    # Inputs first when they explain it: an output drifts because an input did.
    return sorted(rows, key=lambda r: -r["rank"])


def verdict(rows: list[dict[str, Any]]) -> str:
    """One line naming the field most likely broken, or saying none is."""
    suspects = [r for r in rows if r["rank"] >= WARN]
    inputs = [r for r in suspects if not r["field"].startswith("output.")]
    if not suspects:
        return "no field drifted: every field's PSI is under 0.1 and nothing is invalid"
    top = (inputs or suspects)[0]
    reasons = [f"PSI {top['psi']:.2f}"]
    if top["above"] >= 0.01:
        reasons.append(f"{top['above']:.0%} above the training max")
    if top["below"] >= 0.01:
        reasons.append(f"{top['below']:.0%} below the training min")
    if top["unseen"] >= 0.01:
        seen = ", ".join(map(repr, top["top_unseen"][:3]))
        reasons.append(f"{top['unseen']:.0%} never seen in training ({seen})")
    if top["null"] - top["reference_null"] >= 0.01:
        reasons.append(f"{top['null']:.0%} null (training {top['reference_null']:.0%})")
    if top["invalid"]:
        reasons.append(f"{top['invalid_share']:.0%} of its inputs rejected (422)")
    if len(inputs) > 1 and top is inputs[0] and inputs[1]["psi"] >= ALERT:
        reasons.append(
            f"{inputs[1]['field']} changed too (PSI"
            f" {inputs[1]['psi']:.2f}): swapped fields?"
        )
    kind = "" if inputs else " (only the answers moved: look at the model)"
    return f"most likely broken: {top['field']} ({'; '.join(reasons)}){kind}"


def table(rows: list[dict[str, Any]], found: Scrape, source: str) -> str:
    """The report: a header, one line per field, the verdict."""
    info = found.info
    lines = [
        f"drift of {source} against reference {info.get('digest', '?')}"
        f" (recorded for artifacts {info.get('artifact_digest', '?')})"
    ]
    if info.get("stale") == "true":
        lines.append("note: the reference was recorded for other artifacts (stale)")
    lines.append(
        f"{'field':<32} {'PSI':>7} {'n':>7} {'null':>6} {'range':>6} {'unseen':>6}"
        f" {'422s':>5}  largest moves (reference -> live)"
    )
    for r in rows:
        moves = sorted(
            r["shares"].items(), key=lambda kv: -abs(kv[1]["live"] - kv[1]["reference"])
        )[:3]
        moved = ", ".join(
            f"{b} {s['reference']:.0%}->{s['live']:.0%}" for b, s in moves
        )
        lines.append(
            f"{r['field'][:32]:<32} {r['psi']:>7.3f} {r['count']:>7} {r['null']:>6.1%}"
            f" {r['out_of_range']:>6.1%} {r['unseen']:>6.1%} {r['invalid']:>5}  {moved}"
        )
    lines.append(verdict(rows))
    return "\n".join(lines)


def run(url: str, token: str = "", window: float = 0) -> tuple[Scrape, list[dict]]:
    """Scrape (twice, `window` seconds apart, if asked) and diagnose."""
    found = scrape(url, token)
    if window:
        time.sleep(window)
        found = scrape(url, token).minus(found)
    if not found.reference:
        raise ValueError(
            f"{url} exports no training reference: record artifacts/reference.json"
            " (tools/reference.py) and deploy it with the model"
        )
    return found, diagnose(found)


def chat_message(rows: list[dict[str, Any]], source: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: the verdict, then the top fields."""
    drifted = [r for r in rows if r["rank"] >= WARN]
    headline = f"{'⚠️' if drifted else '✅'} Drift of {source}: {verdict(rows)}"
    top = "\n".join(f"• {r['field']}: PSI {r['psi']:.2f}" for r in rows[:5])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    if top:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": top}})
    return {"text": headline, "blocks": blocks}

"""Check rules.yaml without starting the service, and try it: `make rules-check`.

python -m <package>.tools.rules_check [FILE]      (default: RULES_FILE)
    --input JSON    an Input (or a JSON list of them): the model predicts, the rules
                    apply; prints the rules that fire and the answer (repeatable)
    --output JSON   an Output to try the rules on without the model (with --input,
                    or the example Input of model.py)
Exit status 1, with one line naming the rule and the problem, for a bad file.
Warnings (a `=~` that matches at the start only, say) do not fail the check.
"""

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from ..model import Input, Output
from ..serving.rules import RuleFailed, RulesError, RuleSet, load
from ..serving.settings import Settings, SettingsError


def main() -> None:
    parser = argparse.ArgumentParser(prog="make rules-check", description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, help="default: RULES_FILE")
    parser.add_argument("--input", action="append", default=[], metavar="JSON")
    parser.add_argument("--output", metavar="JSON")
    args = parser.parse_args()
    try:
        settings = Settings.from_env()
        path = args.file or settings.rules_file
        ruleset = load(path)
    except (RulesError, SettingsError) as error:
        sys.exit(f"error: {error}")
    if ruleset.rules:
        print(f"{path}: {len(ruleset.rules)} rules (mode: {ruleset.mode}), all valid")
    else:
        print(f"{path}: no rules")
    for rule in ruleset.rules:
        if not rule.fast:  # correct, but tens of microseconds an instance
            print(f"note: rule {rule.name!r} runs in rule-engine's slower interpreter")
    for warning in ruleset.warnings:
        print(f"warning: {warning}")
    if args.input or args.output:
        try:
            inputs = [Input.model_validate(x) for x in _instances(args.input)]
            if args.output is None:
                outputs = _predict(settings, inputs)
            else:  # the same Output for each input
                inputs = inputs or [_example()]
                outputs = [Output.model_validate_json(args.output)] * len(inputs)
            _try(ruleset, inputs, outputs)
        except (ValueError, RuleFailed) as error:  # ValidationError is a ValueError
            sys.exit(f"error: {_one_line(error)}")


def _instances(texts: list[str]) -> list[object]:
    """Each --input: one JSON object, or a list of them."""
    found: list[object] = []
    for text in texts:
        value = json.loads(text)
        found += value if isinstance(value, list) else [value]
    return found


def _example() -> Input:
    from ..serving.runtime import example_input

    return example_input()


def _predict(settings: Settings, inputs: list[Input]) -> list[Output]:
    """The model's outputs, as a worker would make them (in this process)."""
    from ..serving.runtime import Runtime

    runtime = Runtime(settings)
    runtime.load()
    if runtime.stub:
        sys.exit(
            "predict() is not implemented yet, so no input can be tried:"
            " use --output (OUTPUT='{...}') to try the rules on an Output"
        )
    if not runtime.ready:
        sys.exit(f"error: the model is not ready: {runtime.reason}")
    try:
        return runtime.predict_model(inputs)
    except Exception as error:
        sys.exit(f"error: predict() failed: {error!r}")


def _try(ruleset: RuleSet, inputs: list[Input], outputs: list[Output]) -> None:
    """Print, for each instance, the rules that fired and the final answer."""
    results = ruleset.apply(inputs, outputs)
    for item, output, (answer, fired) in zip(inputs, outputs, results, strict=True):
        shown = {
            "input": item.model_dump(mode="json"),
            "output": output.model_dump(mode="json"),
            "fired": list(fired),
            "answer": answer.model_dump(mode="json"),
        }
        print(json.dumps(shown))


def _one_line(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors(include_url=False)[0]
        where = ".".join(map(str, problem["loc"])) or error.title
        return f"{error.title} {where}: {problem['msg']}"
    if isinstance(error, RuleFailed):
        return f"rule {error.args[0]!r} failed: {error.__cause__}"
    return " ".join(str(error).split())


if __name__ == "__main__":
    main()

"""Check rules.yaml without starting the service: `make rules-check`.

python -m <package>.tools.rules_check [FILE]      (default: RULES_FILE)
Exit status 1, with one line naming the rule and the problem, for a bad file.
"""

import sys
from pathlib import Path

from ..serving.rules import RulesError, load
from ..serving.settings import Settings, SettingsError


def main() -> None:
    try:
        path = Settings.from_env().rules_file
        path = Path(sys.argv[1]) if len(sys.argv) > 1 else path
        ruleset = load(path)
    except (RulesError, SettingsError) as error:
        sys.exit(f"error: {error}")
    if not ruleset.rules:
        print(f"{path}: no rules")
        return
    print(f"{path}: {len(ruleset.rules)} rules (mode: {ruleset.mode}), all valid")
    for rule in ruleset.rules:
        if not rule.fast:  # correct, but tens of microseconds an instance
            print(f"note: rule {rule.name!r} runs in rule-engine's slower interpreter")


if __name__ == "__main__":
    main()

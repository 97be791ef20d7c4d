"""Write the template's deploy/monitoring/ files from the rendered service's tool.

python3 scripts/monitoring_files.py   (with cookiecutter and pyyaml installed)

A rendered service's rules and dashboard are its `make monitoring` output with the
defaults (tools/monitoring.py), and its tests/test_monitoring.py checks that. The
template keeps them as Jinja files: this renders a service with a placeholder name,
runs the tool, puts the service's names back as Jinja variables and wraps
Prometheus' and Grafana's own {{ }} in {% raw %}. Run it after changing the tool.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.render import render
from harness.template import ROOT

NAME = "zzplaceholder-service"  # found nowhere else in the generated files
FILES = ("rules.yml", "prometheusrule.yaml", "dashboard.json")
TARGET = ROOT / "{{cookiecutter.service_name}}" / "deploy" / "monitoring"


def as_template(text: str) -> str:
    text = re.sub(r"{{.*?}}", lambda m: "{% raw %}" + m.group(0) + "{% endraw %}", text)
    text = text.replace(NAME.replace("-", "_"), "{{ cookiecutter.__package_name }}")
    return text.replace(NAME, "{{ cookiecutter.service_name }}")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        service = render(Path(folder), service_name=NAME)
        out = Path(folder) / "out"
        tool = f"{NAME.replace('-', '_')}.tools.monitoring"
        env = {"PYTHONPATH": str(service / "src")}
        subprocess.run([sys.executable, "-m", tool, "--out", out], env=env, check=True)
        for name in FILES:
            text = (out / name).read_text(encoding="utf-8")
            (TARGET / name).write_text(as_template(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

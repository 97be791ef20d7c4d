"""Reject answers that would render a broken service, before anything is written."""

import json
import keyword
import re
import sys

SERVICE_NAME = json.loads(
    r"""
{{ cookiecutter.service_name | tojson }}
""".strip()
)
PACKAGE_NAME = json.loads(
    r"""
{{ cookiecutter.__package_name | tojson }}
""".strip()
)

MAX_LENGTH = 40  # leaves room for "-<suffix>" in Kubernetes object names (63 max)
DNS_LABEL = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")
# Import names the service itself needs: a package named like one would shadow it.
# The runtime's first, then each ml_library's (add a new library's here).
TAKEN = {"sanic", "pydantic", "prometheus_client", "orjson", "numpy", "joblib", "test"}
TAKEN |= {"sklearn", "torch", "xgboost", "lightgbm", "onnxruntime", "onnx"}
ALLOWED = (
    f"lowercase letters, digits and '-', starting with a letter, not ending "
    f"with '-', at most {MAX_LENGTH} characters (e.g. 'iris-classifier')"
)


def problem(name: str, package: str) -> str | None:
    """Say what is wrong with the service name, or None when it is fine."""
    if not name:
        return "service_name is empty"
    if len(name) > MAX_LENGTH:
        return f"service_name is {len(name)} characters long"
    if not DNS_LABEL.fullmatch(name) or not name.isascii():
        return f"service_name {name!r} is not a DNS-1123 label"
    if keyword.iskeyword(package) or package in sys.stdlib_module_names | TAKEN:
        return f"service_name {name!r} makes the package {package!r}, a name taken"
    return None


def main() -> int:
    reason = problem(SERVICE_NAME, PACKAGE_NAME)
    if reason:
        print(f"ERROR: {reason}; use {ALLOWED}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

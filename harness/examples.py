"""The examples/<library>/example.py models, and writing them into a model.py.

python3 -m harness.examples LIBRARY SERVICE_DIR   fills src/<package>/model.py
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from harness.template import EXAMPLES

MARKERS = {
    "load": "REPLACE with your loading code",
    "predict": "REPLACE with your prediction code",
}


def example(library: str) -> ModuleType:
    """Import examples/<library>/example.py (it imports its library only to train)."""
    path = EXAMPLES / library / "example.py"
    spec = importlib.util.spec_from_file_location(
        f"example_{library.replace('-', '_')}", path
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requirements(library: str, kind: str) -> list[str]:
    """What examples/<library>/example.py asks the test environment for.

    PREINSTALL: installed first, alone (torch pinned to its CPU build, so pip never
    resolves a bare torch); TRAINING: what train() needs beyond the service's own
    dependencies (a data set, an exporter), kept out of the rendered pyproject.toml.
    """
    return list(getattr(example(library), kind, []))


def script(library: str) -> Path:
    """examples/<library>/example.py: `python example.py train ARTIFACTS` trains."""
    return EXAMPLES / library / "example.py"


def replace_block(source: str, marker: str, body: str) -> str:
    """Swap the fenced block opened by `marker` (up to END REPLACE) for `body`."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    end = next(
        i for i in range(start, len(lines)) if "---- END REPLACE ----" in lines[i]
    )
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    new = [indent + line if line else "" for line in body.strip("\n").splitlines()]
    return "\n".join(lines[:start] + new + lines[end + 1 :]) + "\n"


def write_block(service: Path, marker: str, body: str) -> Path:
    """Replace one fenced block of the service's model.py by `body`; its path."""
    model_py = next(service.glob("src/*/model.py"))
    source = model_py.read_text(encoding="utf-8")
    model_py.write_text(replace_block(source, marker, body), encoding="utf-8")
    return model_py


def fill(library: str, service_dir: Path) -> Path:
    """Write the example's load() and predict() into the service's model.py, as a
    scientist would; return its path."""
    module = example(library)
    model_py = next(service_dir.glob("src/*/model.py"))
    for name, marker in MARKERS.items():
        if body := getattr(module, name.upper()):
            model_py = write_block(service_dir, marker, body)
    return model_py


if __name__ == "__main__":
    print(fill(sys.argv[1], Path(sys.argv[2])))

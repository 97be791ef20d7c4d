"""Write an example's load()/predict() into a rendered model.py, as a scientist would.

python fill.py LIBRARY SERVICE_DIR   fills src/<package>/model.py from the example
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parent
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


def fill(library: str, service_dir: Path) -> Path:
    """Fill model.py of the service rendered in service_dir; return its path."""
    model_py = next(service_dir.glob("src/*/model.py"))
    source = model_py.read_text(encoding="utf-8")
    module = example(library)
    for name, marker in MARKERS.items():
        body = getattr(module, name.upper())
        if body:
            source = replace_block(source, marker, body)
    model_py.write_text(source, encoding="utf-8")
    return model_py


if __name__ == "__main__":
    print(fill(sys.argv[1], Path(sys.argv[2])))

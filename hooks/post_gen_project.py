"""Remove what the chosen options do not need, then print the next steps."""

import json
import shutil
import sys
from pathlib import Path

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
ML_LIBRARY = json.loads(
    r"""
{{ cookiecutter.ml_library | tojson }}
""".strip()
)

# Paths (relative to the rendered service) that the chosen library does not use.
REMOVE_PATHS: dict[str, list[str]] = {
    # Plain Python code usually has no saved model: keep the folder, drop its how-to.
    "other": ["artifacts/README.md"],
}

NEXT_STEPS = f"""
Rendered {SERVICE_NAME}. Next:
  1. cd {SERVICE_NAME} && make install
  2. copy your trained model into artifacts/ and write predict() in
     src/{PACKAGE_NAME}/model.py (and load() if the default does not fit)
  3. make test, then make run (and, in another shell, make predict)
"""


def main() -> int:
    for relative in REMOVE_PATHS.get(ML_LIBRARY, []):
        path = Path(relative)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    print(NEXT_STEPS)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lock the dependencies: exact versions with hashes, made from pyproject.toml.

make lock           re-resolve after editing pyproject.toml's dependencies
make lock-check     exit 1, naming them, when pyproject.toml and the locks disagree
make lock-upgrade   the newest versions the ranges allow

requirements.txt holds the service's dependencies, requirements-dev.txt the test tools
beyond them, both for the image's platform (Linux x86_64) and Python version. uv
resolves them (it keeps the pins already there unless --upgrade) from the indexes of
your pip configuration. torch is left out and written as a comment: `make install`
and the image install it first, without a hash, since its CPU and CUDA builds differ.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCKS = {"runtime": Path("requirements.txt"), "test": Path("requirements-dev.txt")}
PLATFORM = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
PLATFORM |= {"platform_machine": "x86_64"}
FIRST = "# installed first, without hashes: "  # then torch==<version>
PIN = re.compile(r"^(?:# installed first, without hashes: )?([A-Za-z0-9._-]+)==(\S+)")


def declared(project: dict, group: str) -> list[str]:
    """pyproject.toml's dependencies (runtime), or one of its extras."""
    if group == "runtime":
        return project["dependencies"]
    return project["optional-dependencies"][group]


def pip_indexes() -> list[str]:
    """uv's options for the indexes in pip's configuration (uv does not read it)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    options = []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in ("index-url", "extra-index-url", "find-links"):
            options += [f"--{option}={url}" for url in value.strip("'\"").split()]
    return list(dict.fromkeys(options))  # pip lists a setting once per source


def torch_first(requirements: list[str]) -> tuple[list[str], str]:
    """torch swapped for the dependencies of the installed (CPU) build; its pin."""
    if not any(canonicalize_name(Requirement(r).name) == "torch" for r in requirements):
        return requirements, ""
    try:
        version = metadata.version("torch").split("+")[0]
    except metadata.PackageNotFoundError:
        sys.exit("torch is not installed here: run `make install` first")
    own = [r for r in metadata.requires("torch") or [] if "extra ==" not in r]
    kept = [r for r in requirements if Requirement(r).name != "torch"]
    return kept + own, f"torch=={version}"


def compile_lock(requirements: list[str], output: Path, options: list[str]) -> None:
    """uv pip compile `requirements` into `output` (its pins kept as preferences)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder, "requirements.in")
        source.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", source]
        command += ["--generate-hashes", "--no-header", "--no-annotate", "-o", output]
        # Like pip: the best version from any index (uv's default is the first index).
        command += ["--index-strategy", "unsafe-best-match", *pip_indexes(), *options]
        if subprocess.run([str(part) for part in command]).returncode:
            sys.exit(f"could not lock {output}: uv says why above")


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of a lock file (and its torch comment)."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    found = (PIN.match(line) for line in lines)
    return {canonicalize_name(m[1]): m[2] for m in found if m}


def lock(project: dict, python: str, upgrade: bool) -> None:
    """Write both locks; the test tools' lock holds only what the first lacks."""
    options = ["--python-version", python, "--python-platform", "x86_64-manylinux_2_28"]
    options += ["--upgrade"] if upgrade else []
    runtime, torch = torch_first(declared(project, "runtime"))
    compile_lock(runtime, LOCKS["runtime"], options)
    with tempfile.TemporaryDirectory() as folder:
        test = Path(folder, "test.txt")
        test.write_bytes(LOCKS["test"].read_bytes() if LOCKS["test"].exists() else b"")
        constraints = ["--constraint", LOCKS["runtime"]]
        compile_lock(declared(project, "test"), test, [*options, *constraints])
        blocks = re.split(r"\n(?=\S)", test.read_text(encoding="utf-8").strip())
    shared = pins(LOCKS["runtime"])
    named = [(PIN.match(block), block) for block in blocks]
    extra = [b for m, b in named if m and canonicalize_name(m[1]) not in shared]
    where = f"Python {python} on Linux x86_64; `make lock` remakes it (tools/lock.py)"
    header = f"# Exact versions, with hashes, for {where}.\n"
    runtime_text = LOCKS["runtime"].read_text(encoding="utf-8")
    first = f"{FIRST}{torch} (README.md, PyTorch)\n" if torch else ""
    LOCKS["runtime"].write_text(header + first + runtime_text, encoding="utf-8")
    body = "".join(block + "\n" for block in extra)
    LOCKS["test"].write_text(header + body, encoding="utf-8")


def disagreements(project: dict, python: str) -> list[str]:
    """One line per declared requirement that the locks do not pin, or pin outside
    its range."""
    environment = {**PLATFORM, "python_version": python, "extra": ""}
    problems = []
    for group, path in LOCKS.items():
        locked = pins(LOCKS["runtime"]) | pins(path)
        for text in declared(project, group):
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            version = locked.get(canonicalize_name(requirement.name))
            if version is None:
                problems.append(f"{requirement} is not in {path}")
            elif not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement} but {path} has {version}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare")
    parser.add_argument("--upgrade", action="store_true", help="newest allowed")
    parser.add_argument("--python-version", help="default: requires-python's")
    arguments = parser.parse_args(argv)
    project = tomllib.loads(Path("pyproject.toml").read_text("utf-8"))["project"]
    python = arguments.python_version or project["requires-python"].lstrip(">=~")
    if not arguments.check:
        lock(project, python, arguments.upgrade)
    if problems := disagreements(project, python):
        lines = ["pyproject.toml and the locks disagree (run `make lock`):"]
        print("\n  ".join(lines + problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

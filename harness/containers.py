"""A rendered service's image: build it, run it on 127.0.0.1, stop it, remove it.

Used by tests/test_image.py, bench/images.py and scripts/test.py, with any
Docker-compatible CLI.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

from harness import client
from harness.commands import run
from harness.server import free_port
from harness.template import ROOT
from harness.venvs import LISTING, distributions
from harness.waiting import wait_until

ENGINE = os.environ.get("CONTAINER_ENGINE", "docker")
# Starts a Docker-compatible engine where the machine has none (when present).
ENGINE_SCRIPT = ROOT.parent / "shared" / "containers" / "engine.sh"
GRACE = 25  # GRACEFUL_SHUTDOWN_TIMEOUT's default, in seconds
# A bare "torch" from the index is the multi-GB CUDA build: torch images get `make
# wheels` first (this machine's pip settings put the CPU build in wheels/), and the
# build then installs from wheels/ alone.
WHEELHOUSE = {"torch"}


def engine() -> str:
    """The container engine's CLI; LookupError saying why none can be used."""
    path = shutil.which(ENGINE)
    if not path:
        raise LookupError(f"no container engine: {ENGINE} is not installed")
    info = subprocess.run([path, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        raise LookupError(f"{ENGINE} cannot reach an engine ({reason})")
    return path


def container_engine() -> dict[str, str]:
    """DOCKER_HOST and friends for a local engine, when none answers and one can."""
    answers = (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "info"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if answers or not ENGINE_SCRIPT.is_file():
        return {}
    # From /, so the engine's service never runs in a folder that goes away; into a
    # file, since the service it leaves running keeps that descriptor open.
    with tempfile.TemporaryFile("w+") as exports:
        command = ["bash", str(ENGINE_SCRIPT)]
        subprocess.run(command, cwd="/", stdout=exports, check=True)
        exports.seek(0)
        lines = exports.read().splitlines()
    pairs = (x.removeprefix("export ").split("=", 1) for x in lines if "=" in x)
    return {key: value.strip("'\"") for key, value in pairs}


# On every image the harness builds, intermediate ones included: sweep() finds them.
LABEL = "modelservice.image"


def sweep(docker: str) -> list[str]:
    """Remove every image the harness built, intermediate ones included; what is left.

    Only once no build runs: podman labels a cached intermediate image with the
    build that made it, and another service's build may be reusing it (two final
    stages begin alike), so removing it mid-run rebuilds the other's layers.
    """
    quiet = [docker, "images", "-qa", "--filter", f"label={LABEL}"]

    def left() -> list[str]:
        done = subprocess.run(quiet, capture_output=True, text=True, check=False)
        return done.stdout.split()

    if built := left():
        subprocess.run([docker, "rmi", *built], capture_output=True, check=False)
    return left()


class Image:
    """`make image` of a rendered service as `name:test`, run as container `name`.

    Every build is labelled (LABEL=name); remove() takes the container and the
    tags, and sweep() the intermediate images once nothing builds any more.
    """

    def __init__(
        self, docker: str, service: Path, python: Path, library: str, name: str
    ) -> None:
        self.docker, self.service, self.library = docker, service, library
        self.name = name
        self.tag, self.label = f"{name}:test", f"{LABEL}={name}"
        project = tomllib.loads((service / "pyproject.toml").read_text("utf-8"))
        self.tags = [self.tag, f"{name}:{project['project']['version']}"]
        self.make = ["make", f"CONTAINER_ENGINE={docker}", f"PYTHON={python}"]
        self.make += [f"IMAGE={name}", "TAG=test"]
        # Empty: this machine's pip configuration provides torch's CPU build, so
        # `make wheels` needs no extra index (a torch service's default adds one).
        self.make += ["TORCH_INDEX="]
        self.url = ""

    def wheels(self) -> float:
        """`make wheels` where the library needs it; the seconds it took, else 0."""
        if self.library not in WHEELHOUSE:
            return 0.0
        return self.timed([*self.make, "wheels"], timeout=900)

    def build(self, *flags: str, timeout: float = 1500) -> float:
        """`make image` with these extra build flags; the seconds it took."""
        options = f"BUILD_FLAGS={' '.join([*flags, '--label', self.label])}"
        return self.timed([*self.make, "image", options], timeout=timeout)

    def timed(self, command: list[str], timeout: float) -> float:
        started = time.monotonic()
        run(command, cwd=self.service, timeout=timeout)
        return time.monotonic() - started

    def distributions(self) -> dict[str, str]:
        """{normalised name: version} of the image's Python environment."""
        command = ["run", "--rm", "--entrypoint", "python", self.tag, "-c", LISTING]
        return distributions(run([self.docker, *command]))

    def labels(self) -> dict[str, str]:
        return json.loads(self.inspect("{{json .Config.Labels}}", self.tag))

    def sbom(self) -> dict:
        """`make sbom`: build/sbom.json, a CycloneDX SBOM of the image's environment."""
        options = f"BUILD_FLAGS=--label {self.label}"
        self.timed([*self.make, "sbom", options], timeout=900)
        return json.loads((self.service / "build" / "sbom.json").read_text("utf-8"))

    def edit_code(self) -> None:
        """A code change only: a comment at the end of model.py."""
        model_py = next(self.service.glob("src/*/model.py"))
        model_py.write_text(model_py.read_text(encoding="utf-8") + "# edited\n")

    def layers(self) -> list[str]:
        return json.loads(self.inspect("{{json .RootFS.Layers}}", self.tag))

    def megabytes(self) -> float:
        return int(self.inspect("{{.Size}}", self.tag)) / 1e6

    def start(self, timeout: float = 180) -> float:
        """docker run on a free port of 127.0.0.1; seconds until /readyz is 200."""
        self.quiet("rm", "-f", self.name)
        port = free_port()
        started = time.monotonic()
        publish = ["-p", f"127.0.0.1:{port}:8000", self.tag]
        run([self.docker, "run", "-d", "--name", self.name, *publish], self.service)
        self.url = f"http://127.0.0.1:{port}"
        wait_until(self.ready, timeout, self.logs, every=0.2)
        return time.monotonic() - started

    def ready(self) -> bool:
        try:
            return client.request(self.url + "/readyz", timeout=30)[0] == 200
        except OSError:
            return False

    def predict(self, body: object) -> tuple[int, bytes]:
        status, _, answer = client.request(self.url + "/v1/predict", body, timeout=30)
        return status, answer

    def stop(self) -> float:
        """SIGTERM (docker stop, killed after GRACE + 5 s); the seconds it took."""
        stop = [self.docker, "stop", "--time", str(GRACE + 5), self.name]
        return self.timed(stop, timeout=GRACE + 60)

    def inspect(self, template: str, name: str = "") -> str:
        """docker inspect of the container (or of `name`), formatted by `template`."""
        done = self.quiet("inspect", "--format", template, name or self.name)
        return done.stdout.strip()

    def logs(self) -> str:
        done = self.quiet("logs", self.name)
        return done.stdout + done.stderr

    def remove(self) -> None:
        """Remove the container and the tags (and the intermediate images only this
        build used: the engine keeps those another build's cache still needs)."""
        self.quiet("rm", "-f", self.name)
        self.quiet("rmi", *self.tags)

    def quiet(self, *arguments: str) -> subprocess.CompletedProcess:
        """An engine command whose failure is an answer (nothing to remove ...)."""
        command = [self.docker, *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=False)

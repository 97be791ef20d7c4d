"""The rendered image, built by a real container engine, serves a real model."""

import json
import re
import subprocess
import tomllib

import pytest

from harness.commands import run, sh
from harness.containers import GRACE, LABEL, Image, engine
from harness.environments import BY_LIBRARY, pinned
from harness.examples import example
from harness.models import close, in_process, trained_service
from harness.render import bake
from harness.template import CHOICES
from harness.venvs import LISTING, distributions, normalized


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_image_serves_the_trained_model_and_stops_on_sigterm(
    cookies, environments, library: str
) -> None:
    """Build (then again after a code change, reusing the dependency layer) with the
    locked versions the test environment has, and labels saying what it is; run on
    127.0.0.1: /readyz, predictions equal to in-process ones; SIGTERM stops it with
    exit 0 within the grace period. scikit-learn: `make sbom` lists the locks."""
    try:
        docker = engine()
    except LookupError as error:
        pytest.skip(f"{error}; .ci/run starts one")
    service, python = trained_service(cookies, environments, library)
    image = Image(docker, service, python, library, f"modelservice-test-{library}")
    try:
        image.wheels()
        first = image.build()  # cold on a new machine
        before = image.layers()
        image.edit_code()
        cached = image.build()
        after = image.layers()
        # Only the layers from the service code on (code, model files, rules) are
        # new: the dependencies' layer before them is reused.
        assert len(before) == len(after), (before, after)
        changed = [
            i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b
        ]
        assert changed and changed == list(range(changed[0], len(after))), changed
        assert len(changed) <= 3, (before, after)
        check_environment_and_labels(image, python, service)
        if library == "scikit-learn":
            components = image.sbom()["components"]
            listed = {(normalized(x["name"]), x["version"]) for x in components}
            locked = pinned(service / "requirements.txt").items()
            assert set(locked) <= listed, set(locked) - listed
        print(f"\n{library}: build {first:.0f} s, ", end="")
        print(f"{cached:.1f} s after a code change, {image.megabytes():.0f} MB", end="")

        print(f", ready {image.start():.1f} s after docker run", end="")
        inputs = example(library).inputs(20)
        expected = in_process(python, service, inputs)
        for instance, want in zip(inputs, expected, strict=True):
            status, body = image.predict(instance)
            assert status == 200, body
            assert close(json.loads(body), want), (instance, body, want)
        status, body = image.predict({"instances": inputs})
        assert status == 200 and close(json.loads(body)["predictions"], expected)

        stopped = image.stop()
        print(f", stopped {stopped:.1f} s after SIGTERM")
        assert stopped < GRACE, image.logs()
        state = image.inspect("{{.State.ExitCode}} {{.Config.User}}")
        assert state == "0 10001:10001", image.logs()
        lines = [json.loads(x) for x in image.logs().splitlines() if x[:1] == "{"]
        assert sum(x.get("route") == "/v1/predict" for x in lines) == 21
    finally:
        image.remove()


@pytest.mark.xdist_group("other")  # never built at once with the other image
def test_image_takes_an_extra_only_when_asked(cookies) -> None:
    """`make image EXTRAS=storage` (for ARTIFACTS_URI) adds the extra's packages to
    the image's environment and moves no locked version; without it, none of them."""
    try:
        docker = engine()
    except LookupError as error:
        pytest.skip(f"{error}; .ci/run starts one")
    service = bake(cookies, ml_library="other")
    locked = pinned(service / "requirements.txt")
    project = tomllib.loads((service / "pyproject.toml").read_text("utf-8"))
    storage = project["project"]["optional-dependencies"]["storage"]
    extra = {normalized(re.split(r"[<>=!~\[; ]", r)[0]) for r in storage}
    tag = "modelservice-test-extras:build"
    listing = [docker, "run", "--rm", "--entrypoint", "/opt/venv/bin/python", tag]
    try:
        for extras in ("", "storage"):
            build = [docker, "build", "--target", "build", "-t", tag]
            build += ["--label", f"{LABEL}=modelservice-test-extras"]
            run([*build, "--build-arg", f"EXTRAS={extras}", "."], service)
            inside = distributions(sh(*listing, "-c", LISTING))
            assert {name: inside[name] for name in locked} == locked
            assert (extra <= inside.keys()) == bool(extras), sorted(inside)
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, check=False)


def check_environment_and_labels(image: Image, python, service) -> None:
    """The image's environment holds exactly requirements.txt (and torch, first),
    at the versions the test environment has: `pip freeze` of both, for the runtime
    packages. Its labels name the version, commit, source and template version."""
    locked = pinned(service / "requirements.txt")
    venv = distributions(run([python, "-c", LISTING]))
    inside = image.distributions()
    inside.pop(service.name)  # the service itself, from src/
    for name, version in inside.items():
        assert venv[name] == version, (name, version, venv[name])
    assert inside.pop("torch", None) in (None, venv.get("torch"))
    assert inside == locked
    labels = image.labels()
    assert labels["org.opencontainers.image.title"] == service.name
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.revision"]  # the commit, or nogit
    assert labels["modelservice.template.version"] == CHOICES["_template_version"]

"""The rendered image, built by a real container engine, serves a real model."""

import json
import subprocess
import tomllib

import pytest

from harness.commands import run, sh
from harness.containers import GRACE, Image, engine
from harness.environments import BY_LIBRARY
from harness.examples import example
from harness.models import close, in_process, trained_service
from harness.render import bake


@pytest.mark.slow
@pytest.mark.parametrize("library", BY_LIBRARY)
def test_image_serves_the_trained_model_and_stops_on_sigterm(
    cookies, environments, library: str
) -> None:
    """Build (then again after a code change, reusing the dependency layer), run on
    127.0.0.1: /readyz, predictions equal to in-process ones; SIGTERM stops it with
    exit 0 within the grace period."""
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


def test_image_takes_an_extra_only_when_asked(cookies) -> None:
    """The image's dependency list is pyproject's dependencies, and an extra's
    (`make image EXTRAS=storage`, for ARTIFACTS_URI) only when the build asks."""
    try:
        docker = engine()
    except LookupError as error:
        pytest.skip(f"{error}; .ci/run starts one")
    service = bake(cookies, ml_library="other")
    project = tomllib.loads((service / "pyproject.toml").read_text("utf-8"))
    storage = project["project"]["optional-dependencies"]["storage"]
    tag = "modelservice-test-extras:requirements"
    try:
        for extras, expected in [("", []), ("storage", storage)]:
            build = [docker, "build", "--target", "requirements", "-t", tag]
            run([*build, "--build-arg", f"EXTRAS={extras}", "."], service)
            found = sh(docker, "run", "--rm", tag, "cat", "/requirements.txt")
            assert found.split() == project["project"]["dependencies"] + expected
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, check=False)

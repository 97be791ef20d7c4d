"""torch services: the CPU build through TORCH_INDEX, and a text model of varying
length (vocabulary file, token ids and offsets, torch.export with dynamic dims)."""

import importlib.util
import json
import shutil
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from harness.commands import run
from harness.examples import example
from harness.models import close, in_process
from harness.render import bake
from harness.server import source_env as service_env
from harness.template import EXAMPLES
from harness.waiting import wait_until

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH = pytest.mark.xdist_group("torch")  # shares that library's environment


def text_example() -> ModuleType:
    """examples/torch/text.py: training code around the README's text model."""
    spec = importlib.util.spec_from_file_location(
        "example_torch_text", EXAMPLES / "torch" / "text.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_n(service: Path, target: str, *settings: str) -> str:
    """What `make -n target` would run."""
    make = shutil.which("make") or pytest.skip("make is not installed here")
    return run([make, "-n", target, *settings], cwd=service)


def planned(service: Path, target: str, *settings: str) -> list[str]:
    """The pip commands `make -n target` would run."""
    output = make_n(service, target, *settings)
    return [line for line in output.splitlines() if "-m pip " in line]


def test_make_install_and_wheels_give_pip_the_cpu_index(cookies) -> None:
    """torch services: pip gets TORCH_INDEX (the CPU index) in install and wheels,
    nothing when it is empty; other libraries never get it."""
    service = bake(cookies, ml_library="torch")
    extra = f"--extra-index-url {CPU_INDEX}"
    # torch first, alone, at the tests' pin (its lock line has no hash: the CPU
    # build's differs from the CUDA one's), then the hashed lock
    first = next(x for x in planned(service, "install") if "torch==" in x)
    assert extra in first and "--no-deps" in first, first
    assert example("torch").PREINSTALL[0] in first.replace('"', ""), first
    assert "--require-hashes" in planned(service, "install")[-3]
    wheels = next(x for x in planned(service, "wheels") if "torch==" in x)
    assert extra in wheels and "pip download" in wheels, wheels
    image = make_n(service, "image")  # when wheels/ is empty
    assert f'PIP_EXTRA_INDEX_URL="{CPU_INDEX}"' in image, image
    assert "PIP_EXTRA_INDEX_URL " in make_n(service, "image", "TORCH_INDEX=")
    mirror = "TORCH_INDEX=https://mirror.example/cpu"
    assert "--extra-index-url https://mirror.example/cpu" in " ".join(
        planned(service, "wheels", mirror)
    )
    for target in ("install", "wheels"):  # your pip configuration has a CPU build
        assert "index-url" not in " ".join(planned(service, target, "TORCH_INDEX="))
    other = bake(cookies, ml_library="scikit-learn")
    pip = planned(other, "install") + planned(other, "wheels")
    assert "index-url" not in " ".join(pip)


def test_declared_torch_range_admits_the_tested_build(cookies) -> None:
    """The rendered pyproject.toml's torch range holds the pinned build the tests
    install (examples/torch: PREINSTALL)."""
    service = bake(cookies, ml_library="torch")
    project = tomllib.loads((service / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [Requirement(x) for x in project["project"]["dependencies"]]
    [torch] = [x for x in declared if x.name == "torch"]
    for module in (example("torch"), text_example()):
        [pinned] = [Requirement(x) for x in module.PREINSTALL]
        [version] = [spec.version for spec in pinned.specifier]
        assert torch.specifier.contains(version), (torch, version)


def test_readme_shows_the_text_model_the_tests_serve(cookies) -> None:
    """The torch README holds the export() and model.py that the text test runs;
    other libraries' READMEs have no PyTorch part."""
    readme = (bake(cookies, ml_library="torch") / "README.md").read_text("utf-8")
    for block in text_example().code_blocks():
        assert f"```python\n{block}```" in readme
    assert "TORCH_INDEX" in readme and "nvidia.com/gpu" in readme
    other = (bake(cookies, ml_library="onnx") / "README.md").read_text("utf-8")
    assert "## PyTorch" not in other and "TORCH_INDEX" not in other


def batch_sizes(server) -> tuple[float, float]:
    """Instances predicted and Model.predict() calls, summed over the workers."""
    from prometheus_client.parser import text_string_to_metric_families

    families = text_string_to_metric_families(server.request("/metrics")[2].decode())
    [family] = [x for x in families if x.name.endswith("_batch_size")]
    values = {x.name.rsplit("_", 1)[1]: x.value for x in family.samples}
    return values["sum"], values["count"]


@pytest.mark.slow
@TORCH
def test_text_model_with_a_vocabulary_is_served_in_batches(
    cookies, environments, server_factory
) -> None:
    """The README's text model (vocabulary.txt beside model.pt2, ids and offsets
    exported with dynamic dims), trained here, passes the service's tests and two
    workers gathering concurrent texts of all lengths into batches answer as it does
    in-process."""
    text = text_example()
    service = bake(cookies, ml_library="torch")
    python = environments.python("torch")
    model_py = next(service.glob("src/*/model.py"))
    model_py.write_text(text.code_blocks()[1], encoding="utf-8")
    train = [str(python), str(EXAMPLES / "torch" / "text.py"), "train", "artifacts"]
    run(train, service)
    assert (service / "artifacts" / "vocabulary.txt").is_file()
    ruff = [sys.executable, "-m", "ruff"]
    run([*ruff, "check", "--no-cache", "."], cwd=service)
    run([*ruff, "format", "--check", "--no-cache", "."], cwd=service)
    output = run(
        [str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=service,
        **service_env(service),
    )
    assert "is not implemented yet" not in output, output  # predict tests ran

    inputs = text.inputs(200)
    assert len({len(x["text"].split()) for x in inputs}) > 10  # lengths vary
    expected = in_process(python, service, inputs)
    assert {x["label"] for x in expected} == {
        "billing",
        "technical",
        "account",
        "shipping",
    }

    server = server_factory(python, service, MAX_BATCH_WAIT_MS="5")
    server.wait_ready()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda x: server.request("/v1/predict", x), inputs))
    for instance, (status, _, body), want in zip(
        inputs, answers, expected, strict=True
    ):
        assert status == 200, body
        assert close(json.loads(body), want), (instance, body, want)

    # Workers write their metrics right after their last response: poll briefly.
    def all_counted() -> tuple[float, float] | None:
        sizes = batch_sizes(server)
        return sizes if sizes[0] >= len(inputs) else None

    instances, calls = sizes = wait_until(all_counted, 10, "batch_size counts")
    assert instances >= len(inputs) and calls < instances, sizes  # batches were made

    chunks = [inputs[i : i + 7] for i in range(0, 49, 7)]  # several texts a request
    for chunk, start in zip(chunks, range(0, 49, 7), strict=True):
        status, _, body = server.request("/v1/predict", {"instances": chunk})
        assert status == 200, body
        assert close(json.loads(body)["predictions"], expected[start : start + 7])
    assert server.stop() == 0, server.output()

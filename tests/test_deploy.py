"""A rendered service deploys with standard tools: image, manifests, CI, updates."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.commands import run
from harness.examples import fill
from harness.render import bake
from harness.template import COMBINATIONS, ROOT, combination_id
from harness.tools import tool

OVERLAYS = ["staging", "production"]
JOBS = {"lint", "test", "validate", "image", "manifests"}


def final_stage(dockerfile: str) -> list[str]:
    """Instruction lines of the last stage (continuations joined, comments dropped)."""
    text = dockerfile.replace("\\\n", " ")
    lines = [x.strip() for x in text.splitlines() if x.strip() and x[0] != "#"]
    start = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[start:]


@pytest.mark.parametrize("context", COMBINATIONS, ids=combination_id)
def test_dockerfile_passes_hadolint_and_runs_unprivileged(cookies, context) -> None:
    """hadolint finds nothing; the last stage has no build tools, a numeric non-root
    user, exec-form CMD, STOPSIGNAL and HEALTHCHECK, on the chosen Python."""
    service = bake(cookies, **context)
    assert run([tool("hadolint"), "Dockerfile"], cwd=service).strip() == ""
    dockerfile = (service / "Dockerfile").read_text(encoding="utf-8")
    version = context.get("python_version", "3.11")
    stage = final_stage(dockerfile)
    assert stage[0] == f"FROM python:{version}-slim"  # literal: Dependabot reads it
    assert not [x for x in stage if "pip install" in x]
    # apt only for the run-time libraries the ML library declares (lightgbm: libgomp1)
    library = context.get("ml_library", "scikit-learn")
    declared = ROOT / "templates/libraries" / library / "system-packages.txt"
    wanted = declared.read_text(encoding="utf-8").split() if declared.exists() else []
    installed = [
        x.split("--no-install-recommends")[1].split("&&")[0].split()
        for x in stage
        if "apt-get install" in x
    ]
    assert installed == ([wanted] if wanted else [])
    assert not [x for x in stage if any(t in x for t in ("gcc", "build-essential"))]
    assert "USER 10001:10001" in stage
    assert "STOPSIGNAL SIGTERM" in stage
    assert any(x.startswith("HEALTHCHECK") and "/readyz" in x for x in stage)
    cmd = next(x for x in stage if x.startswith("CMD "))
    assert json.loads(cmd[4:]) == [service.name]  # exec form: signals reach the server
    assert "HOST=0.0.0.0" in " ".join(stage)
    ignored = (service / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[ignored.index("*") :][:2] == ["*", "!pyproject.toml"]  # allow-list


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("context", COMBINATIONS, ids=combination_id)
def test_overlay_builds_and_validates_strictly(
    cookies, tmp_path: Path, context, overlay: str
) -> None:
    """kubectl kustomize builds it; kubernetes-validate --strict accepts it all."""
    service = bake(cookies, **context)
    built = run([tool("kubectl"), "kustomize", f"deploy/overlays/{overlay}"], service)
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(built, encoding="utf-8")
    output = run([tool("kubernetes-validate"), "--strict", str(manifests)], tmp_path)
    assert output.count("passed for resource") == 5, output

    objects = {o["kind"]: o for o in yaml.safe_load_all(built)}
    assert objects["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert {"ConfigMap", "Service", "Deployment", "PodDisruptionBudget"} < set(objects)
    pod = objects["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    spec, (container,) = pod["spec"], pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert security["allowPrivilegeEscalation"] is False
    # The metrics folder is on a writable volume, below (not at) its mount point.
    settings = objects["ConfigMap"]["data"]
    (mount,) = container["volumeMounts"]
    assert settings["METRICS_DIR"].startswith(mount["mountPath"] + "/")
    assert "emptyDir" in spec["volumes"][0]
    assert (
        container["envFrom"][0]["configMapRef"]["name"]
        == objects["ConfigMap"]["metadata"]["name"]
    )
    # Draining fits in the grace period: pre-stop pause + graceful shutdown.
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = float(settings["GRACEFUL_SHUTDOWN_TIMEOUT"])
    assert spec["terminationGracePeriodSeconds"] > pause + drain
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]


@pytest.mark.parametrize("context", COMBINATIONS, ids=combination_id)
def test_shadow_overlay_adds_a_candidate_and_points_the_primary_at_it(
    cookies, tmp_path: Path, context
) -> None:
    """The shadow overlay builds and validates strictly: production, plus a candidate
    Deployment, Service and settings of its own; the primary's SHADOW_URL names it."""
    service = bake(cookies, **context)
    name = service.name
    built = run([tool("kubectl"), "kustomize", "deploy/overlays/shadow"], service)
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(built, encoding="utf-8")
    output = run([tool("kubernetes-validate"), "--strict", str(manifests)], tmp_path)
    assert output.count("passed for resource") == 8, output
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(built)}
    settings = {k: v for k, v in objects.items() if k[0] == "ConfigMap"}
    primary = next(v for k, v in settings.items() if "candidate" not in k[1])
    assert set(objects) - set(settings) == {
        *((kind, name) for kind in ("Deployment", "Service")),
        *((kind, f"{name}-candidate") for kind in ("Deployment", "Service")),
        ("HorizontalPodAutoscaler", name),
        ("PodDisruptionBudget", name),
    }
    assert primary["data"]["SHADOW_URL"] == f"http://{name}-candidate"
    candidate = objects["Deployment", f"{name}-candidate"]
    labels = candidate["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == f"{name}-candidate"  # not the primary's
    (container,) = candidate["spec"]["template"]["spec"]["containers"]
    own = container["envFrom"][0]["configMapRef"]["name"]
    assert "SHADOW_URL" not in objects["ConfigMap", own]["data"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"]


def test_make_deploy_pins_the_image_it_built(cookies) -> None:
    """`make manifests` (what `make deploy` applies) names REGISTRY/name:TAG."""
    service = bake(cookies)
    make = tool("make")
    tool("kubectl")
    image = "localhost:5000/team/iris-classifier:1.2.3-abc"
    for env in OVERLAYS:
        built = run(
            [make, "-s", "manifests", f"ENV={env}", "REGISTRY=localhost:5000/team"]
            + ["TAG=1.2.3-abc"],
            cwd=service,
        )
        (deployment,) = [
            o for o in yaml.safe_load_all(built) if o["kind"] == "Deployment"
        ]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == image
    for target in ("manifests", "deploy", "undeploy"):
        wrong = subprocess.run(
            [make, "-s", target, "ENV=qa"], cwd=service, capture_output=True, text=True
        )
        said = (wrong.stdout + wrong.stderr).strip().splitlines()
        assert wrong.returncode != 0 and len(said) == 1, said  # one line, no more
        assert "ENV=qa" in said[0] and "production shadow staging" in said[0], said
    listed = run([make, "help"], cwd=service)
    for target in ("image", "push", "deploy", "undeploy", "template-update", "test"):
        assert f"make {target} " in listed


def test_ci_workflow_is_copied_verbatim_and_has_every_job(cookies) -> None:
    """The workflow parses, keeps its ${{ }} expressions, and has the five jobs."""
    service = bake(cookies)
    text = (service / ".github/workflows/ci.yml").read_text(encoding="utf-8")
    source = ROOT / "{{cookiecutter.service_name}}/.github/workflows/ci.yml"
    assert text == source.read_text(encoding="utf-8")
    assert "${{ github.ref }}" in text
    workflow = yaml.safe_load(text)
    assert set(workflow["jobs"]) >= JOBS
    steps = " ".join(str(s) for job in workflow["jobs"].values() for s in job["steps"])
    for command in ("make lint", "make test", "make validate", "make image"):
        assert command in steps
    assert "kubernetes-validate --strict" in steps and "hadolint" in steps


def test_ci_workflow_passes_actionlint(cookies) -> None:
    service = bake(cookies)
    run([tool("actionlint"), ".github/workflows/ci.yml"], cwd=service)


def git(*args: str, cwd: Path) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    return run([tool("git"), *identity, *args], cwd=cwd)


def test_image_tag_says_dirty_when_files_differ_from_the_commit(cookies) -> None:
    """The image is tagged <version>-<commit>, plus -dirty for a changed or new file."""
    service = bake(cookies)

    def tags() -> list[str]:
        planned = run([tool("make"), "-n", "image"], cwd=service).split()
        return [planned[i + 1] for i, word in enumerate(planned) if word == "-t"]

    git("init", "-q", cwd=service)
    git("add", "-A", cwd=service)
    git("commit", "-qm", "service", cwd=service)
    commit = git("rev-parse", "--short", "HEAD", cwd=service).strip()
    assert tags() == ["iris-classifier:0.1.0", f"iris-classifier:0.1.0-{commit}"]
    (service / "artifacts" / "model.joblib").write_bytes(b"not committed yet")
    assert tags()[1] == f"iris-classifier:0.1.0-{commit}-dirty"
    git("add", "-A", cwd=service)
    git("commit", "-qm", "model", cwd=service)
    model_py = next(service.glob("src/*/model.py"))
    model_py.write_text(model_py.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    commit = git("rev-parse", "--short", "HEAD", cwd=service).strip()
    assert tags()[1] == f"iris-classifier:0.1.0-{commit}-dirty"


def test_make_validate_reports_the_commands_own_status(cookies, tmp_path) -> None:
    """make exits 2 on any failure; its last line gives the command's own status."""
    service = bake(cookies, ml_library="other")
    (tmp_path / "bad.yaml").write_text("cases:\n  - name: typo\n    inputs: {}\n")
    bin_dir = Path(sys.executable).parent  # has pyyaml: enough to read the cases
    done = subprocess.run(
        [
            tool("make"),
            "validate",
            f"BIN={bin_dir}",
            f"ARGS=--cases {tmp_path}/bad.yaml",
        ],
        cwd=service,
        env={**os.environ, "PYTHONPATH": str(service / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert "bad.yaml:2: case 'typo'" in lines[0], lines
    assert lines[1] == "validate exited 2 (1: a case failed, 2: could not run)", lines


def test_template_update_brings_changes_without_conflicts(cookies, tmp_path) -> None:
    """Render from a git copy of the template, edit model.py, change the template:
    `make template-update` applies the change; the scientist's edit stays."""
    cruft = tool("cruft")
    template = tmp_path / "template"
    files = run([tool("git"), "ls-files", "-co", "--exclude-standard"], ROOT)
    for name in files.splitlines():
        if (ROOT / name).is_file():
            (template / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, template / name)
    git("init", "-q", cwd=template)
    git("add", "-A", cwd=template)
    git("commit", "-qm", "template v1", cwd=template)

    result = cookies.bake(extra_context={}, template=str(template))
    assert result.exit_code == 0, result.exception
    service = Path(result.project_path)
    state = json.loads((service / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == str(template) and len(state["commit"]) == 40
    model_py = fill("scikit-learn", service)
    edited = model_py.read_text(encoding="utf-8")
    git("init", "-q", cwd=service)
    git("add", "-A", cwd=service)
    git("commit", "-qm", "service", cwd=service)

    config = template / "cookiecutter.json"
    config.write_text(config.read_text().replace('"0.1.0"', '"0.2.0"'))
    makefile = template / "{{cookiecutter.service_name}}" / "Makefile"
    makefile.write_text(makefile.read_text() + "\nhello: ## say hello\n\t@echo hello\n")
    git("commit", "-qam", "template v2", cwd=template)

    run([tool("make"), "template-update", f"CRUFT={cruft}"], cwd=service)
    assert run([tool("make"), "-s", "hello"], cwd=service).strip() == "hello"
    assert model_py.read_text(encoding="utf-8") == edited
    answers = json.loads((service / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert answers["_template_version"] == "0.2.0"
    config_py = next(service.glob("src/*/config.py")).read_text(encoding="utf-8")
    assert 'TEMPLATE_VERSION = "0.2.0"' in config_py
    status = git("status", "--porcelain", cwd=service)
    assert not list(service.rglob("*.rej")), status
    assert not [x for x in status.splitlines() if x[:2] in {"UU", "AA", "DU", "UD"}]

"""Every option renders the exact file set, with no Jinja left and valid files."""

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

from harness.render import bake
from harness.template import CHOICES, COMBINATIONS, LIBRARIES, ROOT, combination_id

LEFTOVER = re.compile(
    r"{{\s*cookiecutter\.|{%-?\s*(if|for|endif|endfor|else|set|include)\b"
)
RUNTIME = {
    "sanic",
    "pydantic",
    "prometheus-client",
    "orjson",
    "pyyaml",
    "rule-engine",
    "swagger-ui-bundle-v2",  # the files of /docs
}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip().strip('",'))[0]


def library_dependencies(library: str) -> set[str]:
    """Names in templates/libraries/<library>/dependencies.txt (comments skipped)."""
    path = ROOT / "templates/libraries" / library / "dependencies.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return {requirement_name(x) for x in lines if x.strip().startswith('"')}


COMMON_FILES = {
    ".cookiecutter.json",
    ".cruft.json",
    ".dockerignore",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".gitignore",
    "Dockerfile",
    "Makefile",
    "README.md",
    "artifacts/README.md",
    "pyproject.toml",
    "requirements-dev.txt",
    "requirements.txt",
    "rules.yaml",
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/config.py",
    "src/{package}/model.py",
    "src/{package}/py.typed",
    "src/{package}/serving/__init__.py",
    "src/{package}/serving/app.py",
    "src/{package}/serving/batching.py",
    "src/{package}/serving/compat.py",
    "src/{package}/serving/conditions.py",
    "src/{package}/serving/cors.py",
    "src/{package}/serving/deferred.py",
    "src/{package}/serving/docs.py",
    "src/{package}/serving/errors.py",
    "src/{package}/serving/fastpath.py",
    "src/{package}/serving/health.py",
    "src/{package}/serving/inputs.py",
    "src/{package}/serving/lifecycle.py",
    "src/{package}/serving/logs.py",
    "src/{package}/serving/metrics.py",
    "src/{package}/serving/middleware.py",
    "src/{package}/serving/monitoring.py",
    "src/{package}/serving/openapi.py",
    "src/{package}/serving/parity.py",
    "src/{package}/serving/predict.py",
    "src/{package}/serving/reference.py",
    "src/{package}/serving/reload.py",
    "src/{package}/serving/rules.py",
    "src/{package}/serving/runtime.py",
    "src/{package}/serving/schemas.py",
    "src/{package}/serving/server.py",
    "src/{package}/serving/settings.py",
    "src/{package}/serving/shadow.py",
    "src/{package}/serving/storage.py",
    "src/{package}/serving/tensors.py",
    "src/{package}/serving/v2.py",
    "src/{package}/tools/__init__.py",
    "src/{package}/tools/cases.py",
    "src/{package}/tools/client.py",
    "src/{package}/tools/compare.py",
    "src/{package}/tools/dashboard.py",
    "src/{package}/tools/drift.py",
    "src/{package}/tools/evaluate.py",
    "src/{package}/tools/loadtest.py",
    "src/{package}/tools/monitoring.py",
    "src/{package}/tools/parity.py",
    "src/{package}/tools/reference.py",
    "src/{package}/tools/reports.py",
    "src/{package}/tools/rules_check.py",
    "src/{package}/tools/smoke.py",
    "src/{package}/tools/lock.py",
    "src/{package}/tools/validate.py",
    "tests/conftest.py",
    "tests/test_batching.py",
    "tests/test_compat.py",
    "tests/test_docs.py",
    "tests/test_errors.py",
    "tests/test_fuzz.py",
    "tests/test_health.py",
    "tests/test_layout.py",
    "tests/test_metadata.py",
    "tests/test_metrics.py",
    "tests/test_monitoring.py",
    "tests/test_predict.py",
    "tests/test_reference.py",
    "tests/test_rules.py",
    "tests/test_settings.py",
    "tests/test_v2.py",
    "tests/test_validation.py",
    "validation/cases.yaml",
    "deploy/base/deployment.yaml",
    "deploy/base/hpa.yaml",
    "deploy/base/kustomization.yaml",
    "deploy/base/pdb.yaml",
    "deploy/base/service.yaml",
    "deploy/base/settings.env",
    "deploy/kserve/inferenceservice.yaml",
    "deploy/kserve/kustomization.yaml",
    "deploy/kserve/kustomizeconfig.yaml",
    "deploy/monitoring/dashboard.json",
    "deploy/monitoring/kustomization.yaml",
    "deploy/monitoring/prometheusrule.yaml",
    "deploy/monitoring/rules.yml",
    "deploy/overlays/production/kustomization.yaml",
    "deploy/overlays/shadow/candidate.yaml",
    "deploy/overlays/shadow/kustomization.yaml",
    "deploy/overlays/staging/kustomization.yaml",
    "deploy/rules-patch.yaml",
    "wheels/.gitignore",
}
NOT_FOR: dict[str, set[str]] = {}  # files some libraries do not get


@pytest.fixture(params=COMBINATIONS, ids=combination_id)
def rendered(cookies, request) -> tuple[Path, dict]:
    context = {**{k: v[0] for k, v in CHOICES.items() if isinstance(v, list)}}
    context.update(request.param)
    return bake(cookies, **request.param), context


def test_files_are_exactly_the_expected_set(rendered) -> None:
    """Each combination renders exactly its files, no more, no fewer."""
    service, context = rendered
    package = service.name.replace("-", "_")
    expected = {f.format(package=package) for f in COMMON_FILES}
    expected -= NOT_FOR.get(context["ml_library"], set())
    found = {
        p.relative_to(service).as_posix() for p in service.rglob("*") if p.is_file()
    }
    assert sorted(found) == sorted(expected)


MAX_CORE_LINES = 250  # a module of the serving core a newcomer reads at once
MAX_FACTORY_LINES = 50  # create_app(): a table of contents


def test_serving_core_stays_small_enough_to_read(cookies) -> None:
    """Each serving module has at most 250 lines, and create_app() at most 50."""
    service = bake(cookies, service_name="a" * 40)  # the longest lines it can get
    core = next(service.glob("src/*/serving"))
    sizes = {
        p.name: len(p.read_text(encoding="utf-8").splitlines())
        for p in core.glob("*.py")
    }
    assert max(sizes.values()) <= MAX_CORE_LINES, sizes
    tree = ast.parse((core / "app.py").read_text(encoding="utf-8"))
    [factory] = [n for n in tree.body if getattr(n, "name", "") == "create_app"]
    assert factory.end_lineno - factory.lineno + 1 <= MAX_FACTORY_LINES


def test_no_jinja_is_left_in_names_or_contents(rendered) -> None:
    service, _ = rendered
    for path in service.rglob("*"):
        assert not LEFTOVER.search(path.name), path
        if path.is_file():
            assert not LEFTOVER.search(path.read_text(encoding="utf-8")), path


def test_pyproject_declares_the_library(rendered) -> None:
    """The service depends on its ML library (and nothing heavier than it needs)."""
    service, context = rendered
    project = tomllib.loads((service / "pyproject.toml").read_text(encoding="utf-8"))
    names = {requirement_name(d) for d in project["project"]["dependencies"]}
    assert names == RUNTIME | library_dependencies(context["ml_library"])
    assert project["project"]["requires-python"] == f">={context['python_version']}"


def test_answers_file_records_answers_without_local_paths(rendered) -> None:
    service, context = rendered
    answers = json.loads((service / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert answers["ml_library"] == context["ml_library"]
    assert "_template_version" in answers
    assert not {"_output_dir", "_repo_dir", "_checkout"} & set(answers)


def test_every_library_has_a_complete_folder() -> None:
    """A library is two folders: templates/libraries/<name> and examples/<name>."""
    for library in LIBRARIES:
        assert (ROOT / "templates/libraries" / library / "model.py").is_file()
        assert library_dependencies(library) or library == "other", library
        assert (ROOT / "templates/libraries" / library / "cases.yaml").is_file()
        assert (ROOT / "examples" / library / "example.py").is_file()


@pytest.mark.parametrize("library", LIBRARIES)
def test_every_library_import_of_the_stub_is_declared(library: str) -> None:
    """Each third-party import of model.py is a dependency (xgboost: xgboost-cpu)."""
    stub = ROOT / "templates/libraries" / library / "model.py"
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    imported = {
        a.name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for a in n.names
    }
    imported |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    declared = RUNTIME | library_dependencies(library)
    for name in imported - sys.stdlib_module_names:
        assert any(d.startswith(name) for d in declared), (name, declared)


HOSTILE_TEXT = [
    'He said "hi" and left',
    "back\\slash \\n \\u0041 and 'single' quotes",
    "two\nlines\r\nand a tab\t",
    "{% raw %}{{ cookiecutter.service_name }} {% if %}{% endraw %}",
    "<script>alert(1)</script> & ]]> `code` # not a comment",
    "\"\"\" ''' triple quotes",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_free_text_answers_still_render_valid_files(cookies, text: str) -> None:
    """Description and owner with quotes, newlines or braces render into valid files."""
    service = bake(cookies, description=text, owner=text)
    project = tomllib.loads((service / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["description"].strip()
    json.loads((service / ".cookiecutter.json").read_text(encoding="utf-8"))
    readme = (service / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {service.name}\n")
    for path in service.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")

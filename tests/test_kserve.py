"""The KServe InferenceService of a rendered service: it builds with kustomize, fits
KServe's CRD schema, and runs the image as the Deployment does."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.commands import run
from harness.render import bake
from harness.template import COMBINATIONS, combination_id
from harness.tools import tool

# KServe's InferenceService schema (source and version in its "$comment").
SCHEMA = json.loads(
    (Path(__file__).parent / "kserve/inferenceservice-v1beta1.schema.json").read_text(
        encoding="utf-8"
    )
)
SAME = ("resources", "securityContext", "envFrom", "lifecycle", "volumeMounts")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def build(service: Path, folder: str) -> dict[str, dict]:
    built = run([tool("kubectl"), "kustomize", folder], service)
    return {o["kind"]: o for o in yaml.safe_load_all(built)}


def probe(spec: dict) -> dict:
    """A probe with its port as a number (KServe's port is named http1, not http)."""
    port = spec["httpGet"]["port"]
    return {
        **spec,
        "httpGet": {**spec["httpGet"], "port": 8000 if port == "http" else port},
    }


@pytest.mark.parametrize("context", COMBINATIONS, ids=combination_id)
def test_inference_service_fits_kserves_schema(cookies, context) -> None:
    """kubectl kustomize builds deploy/kserve into a ConfigMap and an
    InferenceService that KServe's CRD schema accepts."""
    service = bake(cookies, **context)
    objects = build(service, "deploy/kserve")
    assert set(objects) == {"ConfigMap", "InferenceService"}
    jsonschema.validate(objects["InferenceService"], SCHEMA)


def test_schema_check_catches_a_misspelt_field(cookies) -> None:
    """The vendored schema is strict: an unknown predictor field fails."""
    isvc = build(bake(cookies), "deploy/kserve")["InferenceService"]
    isvc["spec"]["predictor"]["minReplica"] = 1
    with pytest.raises(jsonschema.ValidationError, match="minReplica"):
        jsonschema.validate(isvc, SCHEMA)


def test_predictor_runs_the_image_as_the_deployment_does(cookies) -> None:
    """Same probes, resources, security contexts, settings, volumes and scaling as
    deploy/base; the settings' hashed name and a set image reach the predictor."""
    service = bake(cookies)
    base, kserve = build(service, "deploy/base"), build(service, "deploy/kserve")
    pod = base["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    predictor = kserve["InferenceService"]["spec"]["predictor"]
    (custom,) = predictor["containers"]
    assert custom["name"] == "kserve-container"
    for key in SAME:
        assert custom[key] == container[key], key
    for key in PROBES:
        assert probe(custom[key]) == probe(container[key]), key
    for key in ("securityContext", "volumes", "automountServiceAccountToken"):
        assert predictor[key] == pod["spec"][key], key
    assert (
        predictor["terminationGracePeriodSeconds"]
        == (pod["spec"]["terminationGracePeriodSeconds"])
    )
    assert predictor["annotations"] == pod["metadata"]["annotations"]
    hpa = base["HorizontalPodAutoscaler"]["spec"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (
        hpa["minReplicas"],
        hpa["maxReplicas"],
    )
    assert kserve["ConfigMap"] == base["ConfigMap"]

    (service / "build/kserve").mkdir(parents=True)
    (service / "build/kserve/kustomization.yaml").write_text(
        "resources: [../../deploy/kserve]\n"
        f"images:\n  - name: {service.name}\n    newName: r.example/{service.name}\n"
        "    newTag: abc123\n",
        encoding="utf-8",
    )
    pinned = build(service, "build/kserve")["InferenceService"]
    image = pinned["spec"]["predictor"]["containers"][0]["image"]
    assert image == f"r.example/{service.name}:abc123"

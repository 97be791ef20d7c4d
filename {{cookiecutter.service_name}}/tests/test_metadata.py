"""GET /v1/model and the OpenAPI document."""

import httpx

from {{ cookiecutter.__package_name }}.config import ML_LIBRARY, SERVICE_NAME
from {{ cookiecutter.__package_name }}.model import Input


def test_model_metadata_describes_the_service(
    client: httpx.Client, answer_model: type
) -> None:
    """It names the service, library and version, and gives both schemas."""
    meta = client.get("/v1/model").json()
    assert meta["service"] == SERVICE_NAME
    assert meta["library"] == ML_LIBRARY
    assert meta["model_version"]
    assert meta["input_schema"] == Input.model_json_schema()
    assert meta["output_schema"] == answer_model.model_json_schema()


def test_openapi_document_is_built_from_the_models(client: httpx.Client) -> None:
    """The OpenAPI 3.1 document has every route and the Input/Output schemas."""
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/healthz", "/readyz", "/metrics", "/v1/predict", "/v1/model"} <= set(
        doc["paths"]
    )
    assert {"Input", "Output", "Error"} <= set(doc["components"]["schemas"])

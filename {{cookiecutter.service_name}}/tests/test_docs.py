"""The interactive API page at /docs, with its files served by the service."""

import re

import httpx

TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


def test_docs_page_and_its_files_are_served(client: httpx.Client) -> None:
    """/docs is Swagger UI over /openapi.json; its own files answer 200 with their
    content type and long caching; nothing else of the package is served."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '"/openapi.json"' in page.text
    files = re.findall(r'(?:href|src)="(/docs/assets/[^"?]+)', page.text)
    assert len(files) == 3, files
    for path in files:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(TYPES[path[path.rfind(".") :]])
        assert "max-age=31536000" in answer.headers["cache-control"]
    assert client.get("/docs/assets/index.j2").status_code == 404

"""One HTTP request with the standard library; error statuses are answers too."""

import json
import urllib.error
import urllib.request


def request(
    url: str,
    body: object = None,
    token: str = "",
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 60,
) -> tuple[int, dict, bytes]:
    """Status, headers and body; `body` JSON-able, or bytes sent as they are."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body)
    data = data.encode() if isinstance(data, str) else data
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()

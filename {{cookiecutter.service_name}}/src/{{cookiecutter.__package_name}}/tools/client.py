"""Send the example input to a running service and print the answer."""

import json
import sys
import urllib.error
import urllib.request

from ..serving.runtime import example_input


def main(url: str) -> int:
    """POST Input's first example to {url}/v1/predict; 1 on an error answer."""
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/predict",
        data=example_input().model_dump_json().encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            print(json.dumps(json.load(response), indent=2))
            return 0
    except urllib.error.HTTPError as error:
        print(f"{error.code}: {error.read().decode()}", file=sys.stderr)
    except urllib.error.URLError as error:
        print(f"cannot reach {url}: {error.reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))

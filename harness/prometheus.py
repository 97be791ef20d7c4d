"""A real Prometheus server scraping a service: started on a free port of 127.0.0.1
with its own data folder, asked through its HTTP API, stopped after."""

import json
import subprocess
import urllib.parse
from pathlib import Path

import yaml

from harness import client
from harness.server import free_port
from harness.waiting import wait_until


class Prometheus:
    """`prometheus` scraping `target` (host:port) every second and evaluating
    `rules` (a rules file) every second. A context manager: ready on entry,
    stopped (and its process gone) on exit."""

    def __init__(self, binary: str, folder: Path, target: str, rules: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": "service", "static_configs": [{"targets": [target]}]}
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config), "utf-8")
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (folder / "prometheus.log").open("w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str, **query: str) -> object:
        """The `data` of an API answer (GET path?query)."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(query)}"
        status, _, body = client.request(url, timeout=10)
        assert status == 200, body
        return json.loads(body)["data"]

    def query(self, promql: str) -> list[dict]:
        """An instant query's samples: [{"metric": {...}, "value": [t, "v"]}...]."""
        return self.get("/api/v1/query", query=promql)["result"]

    def alerts(self, state: str = "firing") -> list[dict[str, str]]:
        """The labels of the alerts in `state` (firing, pending) now."""
        found = self.get("/api/v1/alerts")["alerts"]
        return [a["labels"] for a in found if a["state"] == state]

    def ready(self) -> bool:
        assert self.process.poll() is None, f"prometheus exited:\n{self.output()}"
        try:
            return client.request(f"{self.url}/-/ready", timeout=5)[0] == 200
        except OSError:
            return False

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8")[-4000:]

    def __enter__(self) -> "Prometheus":
        try:
            wait_until(self.ready, 60, self.output, 0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

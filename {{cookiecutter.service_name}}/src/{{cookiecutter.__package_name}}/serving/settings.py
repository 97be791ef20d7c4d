"""Runtime settings, read from environment variables and checked at start."""

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")  # as browsers send it
SERVICE_URL = re.compile(ORIGIN.pattern + r"(/[A-Za-z0-9._~/-]*)?")


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def _setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    return field(
        default=default, metadata={"low": low, "high": high, "choices": choices}
    )


@dataclass(frozen=True)
class Settings:
    """Every knob of the service: the variable is the field's name in capitals."""

    host: str = _setting("127.0.0.1")  # "0.0.0.0" in a container
    port: int = _setting(8000, low=1, high=65535)
    workers: int = _setting(1, low=1, high=64)  # processes, each with its own model
    artifacts_dir: Path = _setting(Path("artifacts"))  # given to Model.load()
    artifacts_uri: str = _setting("")  # s3://, gs://, https://: fetched at start
    artifacts_sha256: str = _setting("")  # pin: the artifact digest of those files
    model_version: str = _setting("")  # default: the artifact digest
    max_batch_size: int = _setting(32, low=1, high=100_000)  # per predict() call
    max_batch_wait_ms: float = _setting(0.0, low=0, high=1000)  # wait to fill a batch
    inline_predict_max_ms: float = _setting(2.0, low=0, high=50)  # 0: fast path off
    max_queue: int = _setting(1024, low=1, high=1_000_000)  # waiting batches, then 503
    max_instances: int = _setting(1000, low=1, high=1_000_000)  # per request
    predict_timeout: float = _setting(30.0, low=0.001, high=3600)  # seconds, then 504
    max_body_bytes: int = _setting(1_048_576, low=1024, high=1 << 30)  # then 413
    request_timeout: float = _setting(10.0, low=1, high=3600)  # pause while sending
    keep_alive_timeout: float = _setting(75.0, low=0, high=3600)  # > LB's 60 s
    graceful_shutdown_timeout: float = _setting(25.0, low=0, high=3600)  # on SIGTERM
    log_level: str = _setting("INFO", choices=LOG_LEVELS)
    prediction_log_rate: float = _setting(0.0, low=0, high=1)  # share of requests
    prediction_log_redact: str = _setting("")  # fields to hide there: "email,name"
    require_parity: int = _setting(0, low=0, high=1)  # 1: ready needs parity.json
    api_token: str = _setting("")  # when set, /v1/ needs "Authorization: Bearer ..."
    api_token_metrics: int = _setting(0, low=0, high=1)  # 1: /metrics needs it too
    api_token_health: int = _setting(0, low=0, high=1)  # 1: /healthz, /readyz too
    v2_enabled: int = _setting(1, low=0, high=1)  # 0: no Open Inference Protocol
    cors_origins: str = _setting("")  # browsers allowed: "https://a.example,..." or *
    metrics_dir: str = _setting("")  # shared by the workers; default: a temp folder
    rules_file: Path = _setting(Path("rules.yaml"))  # business rules, see rules.py
    pid_file: str = _setting("")  # the main process's pid, for `make reload`
    loadtest_p99_ms: float = _setting(250.0, low=0, high=3_600_000)  # `make bench`
    loadtest_error_rate: float = _setting(0.0, low=0, high=1)  # share of requests
    chat_webhook_url: str = _setting("")  # `make validate` posts a summary there
    shadow_url: str = _setting("")  # a candidate service to copy requests to
    shadow_rate: float = _setting(1.0, low=0, high=1)  # share of requests copied
    shadow_timeout_ms: float = _setting(1000.0, low=1, high=60_000)  # per copy
    shadow_queue: int = _setting(1000, low=1, high=1_000_000)  # copies waiting
    shadow_tolerance: float = _setting(1e-6, low=0, high=1e12)  # numbers agree within
    shadow_rank_top: int = _setting(1, low=1, high=10_000)  # best scores that agree
    shadow_log_rate: float = _setting(1.0, low=0, high=1)  # disagreements logged

    def __post_init__(self) -> None:
        if self.artifacts_uri and "://" not in self.artifacts_uri:
            raise SettingsError(
                f"ARTIFACTS_URI={self.artifacts_uri!r} is no URL like s3://bucket/model/"
            )
        if self.artifacts_sha256 and not SHA256.fullmatch(self.artifacts_sha256):
            raise SettingsError("ARTIFACTS_SHA256 must be 64 hexadecimal digits")
        if self.artifacts_sha256 and not self.artifacts_uri:
            raise SettingsError("ARTIFACTS_SHA256 pins ARTIFACTS_URI, which is not set")
        for origin in self.origins:
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"CORS_ORIGINS: {origin!r} is not an origin like https://app.example"
                )
        if self.shadow_url and not SERVICE_URL.fullmatch(self.shadow_url):
            raise SettingsError(
                f"SHADOW_URL={self.shadow_url!r} is not a URL like http://host:8001"
            )

    @property
    def origins(self) -> list[str]:
        """CORS_ORIGINS as a list; empty: CORS is off."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Read each field from its variable; SettingsError names the first bad one."""
        values = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.name.upper())
            if raw is not None:
                values[f.name] = _convert(f, raw)
        return cls(**values)


def _convert(f: dataclasses.Field, raw: str) -> object:
    name, kind, meta = f.name.upper(), type(f.default), f.metadata
    try:
        value = raw if kind is str else kind(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if kind is float and value != value:  # NaN passes float() but no comparison
        raise SettingsError(f"{name}={raw!r} is not a number")
    if meta["choices"]:
        value = value.upper()
    if meta["choices"] and value not in meta["choices"]:
        allowed = ", ".join(meta["choices"])
        raise SettingsError(f"{name}={raw!r} must be one of {allowed}")
    low, high = meta["low"], meta["high"]
    if low is not None and not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} must be between {low} and {high}")
    return value

"""W2: a torch MLP 256 -> 1024 -> 1024 -> 10, one thread per worker."""

from pathlib import Path

import torch
from pydantic import BaseModel, Field


class Input(BaseModel):
    """One row to score."""

    features: list[float] = Field(min_length=256, max_length=256)

    model_config = {"json_schema_extra": {"examples": [{"features": [0.5] * 256}]}}


class Output(BaseModel):
    """The class and the probability of each class."""

    label: int
    probabilities: list[float]


class Model:
    def load(self, artifacts_dir: Path) -> None:
        torch.set_num_threads(1)
        self.net = torch.export.load(artifacts_dir / "model.pt2").module()

    def predict(self, inputs: list[Input]) -> list[Output]:
        features = torch.tensor([item.features for item in inputs])
        with torch.inference_mode():
            rows = torch.softmax(self.net(features), dim=1)
        return [
            Output(label=int(row.argmax()), probabilities=row.tolist()) for row in rows
        ]

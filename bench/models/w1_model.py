"""W1: a scikit-learn LogisticRegression over 20 features, 3 classes."""

from pathlib import Path

import joblib
from pydantic import BaseModel, Field


class Input(BaseModel):
    """One row to score."""

    features: list[float] = Field(min_length=20, max_length=20)

    model_config = {"json_schema_extra": {"examples": [{"features": [0.5] * 20}]}}


class Output(BaseModel):
    """The class and the probability of each class."""

    label: int
    probabilities: list[float]


class Model:
    def load(self, artifacts_dir: Path) -> None:
        self.model = joblib.load(artifacts_dir / "model.joblib")

    def predict(self, inputs: list[Input]) -> list[Output]:
        rows = self.model.predict_proba([item.features for item in inputs])
        return [
            Output(label=int(row.argmax()), probabilities=row.tolist()) for row in rows
        ]

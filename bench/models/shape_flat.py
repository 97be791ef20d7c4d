"""One row per Input: {"features": [...]} -> {"label", "probabilities"}."""

import numpy as np
from pydantic import BaseModel, Field


def make(width: int) -> tuple[type, type, type]:
    """Input, Output and a Model base whose predict() calls self.scores(rows)."""

    class Input(BaseModel):
        """One row to score."""

        features: list[float] = Field(min_length=width, max_length=width)

        model_config = {
            "json_schema_extra": {"examples": [{"features": [0.5] * width}]}
        }

    class Output(BaseModel):
        """The class and the probability of each class."""

        label: int
        probabilities: list[float]

    class Scored:
        def predict(self, inputs: list[Input]) -> list[Output]:
            rows = self.scores(np.asarray([item.features for item in inputs]))
            labels = rows.argmax(axis=1).tolist()
            return [
                Output(label=label, probabilities=row)
                for label, row in zip(labels, rows.tolist(), strict=True)
            ]

    return Input, Output, Scored

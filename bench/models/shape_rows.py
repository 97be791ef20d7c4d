"""Several rows per Input: {"features": [[...], ...]} -> {"predictions",
"probabilities"}; every row of every Input in the batch scored in one call."""

import numpy as np
from pydantic import BaseModel, Field


def make(width: int) -> tuple[type, type, type]:
    """Input, Output and a Model base whose predict() calls self.scores(rows)."""
    row = list[float]

    class Input(BaseModel):
        """Rows to score."""

        features: list[row] = Field(min_length=1, max_length=1000)

        model_config = {
            "json_schema_extra": {"examples": [{"features": [[0.5] * width] * 2}]}
        }

    class Output(BaseModel):
        """The class and the probabilities of each row."""

        predictions: list[int]
        probabilities: list[list[float]]

    class Scored:
        def predict(self, inputs: list[Input]) -> list[Output]:
            matrix = np.asarray([r for item in inputs for r in item.features])
            if matrix.shape[1] != width:
                raise ValueError(f"each row needs {width} features")
            rows = self.scores(matrix)
            labels, probabilities = rows.argmax(axis=1).tolist(), rows.tolist()
            outputs, start = [], 0
            for item in inputs:
                end = start + len(item.features)
                outputs.append(
                    Output(
                        predictions=labels[start:end],
                        probabilities=probabilities[start:end],
                    )
                )
                start = end
            return outputs

    return Input, Output, Scored

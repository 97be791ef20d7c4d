"""The model behind the service: the only file you need to edit.

1. Save your trained estimator or Pipeline: joblib.dump(model, "artifacts/model.joblib")
2. Describe one request in Input and one answer in Output (pydantic models:
   they validate requests and document the API).
3. Write predict(): it gets a whole batch of inputs, returns one output each.
"""

from pathlib import Path
from typing import Annotated

import joblib
from pydantic import BaseModel, Field

# Bounds reject nonsense before it reaches the model (a 422 that names the field).
Centimetres = Annotated[float, Field(ge=0, le=100)]


class Input(BaseModel):
    """One instance to score."""

    # ---- REPLACE with your model's features ----
    features: list[Centimetres] = Field(
        min_length=4,
        max_length=4,
        description="Sepal length, sepal width, petal length, petal width (cm).",
    )
    # ---- END REPLACE ----

    model_config = {
        "json_schema_extra": {"examples": [{"features": [5.1, 3.5, 1.4, 0.2]}]}
    }


class Output(BaseModel):
    """The prediction for one instance."""

    # ---- REPLACE with what your model answers ----
    label: str = Field(description="The predicted class.")
    probabilities: dict[str, float] = Field(description="Probability of each class.")
    # ---- END REPLACE ----


class Model:
    """Loads the trained model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Load the model saved with joblib.dump(model, "artifacts/model.joblib")."""
        self.model = joblib.load(artifacts_dir / "model.joblib")

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        # ---- REPLACE with your prediction code, for example: ----
        # A plain estimator takes an array, one row per input (import numpy):
        # x = numpy.array([item.features for item in inputs])
        # A Pipeline with a ColumnTransformer picks columns by name: give it a
        # pandas DataFrame whose columns are Input's fields, named as in training
        # (import pandas, and add it to pyproject.toml: README, "Adding a dependency"):
        # x = pandas.DataFrame([item.model_dump() for item in inputs])
        # Then, for a classifier:
        # classes = [str(c) for c in self.model.classes_]
        # rows = self.model.predict_proba(x)
        # outputs = []
        # for row in rows:
        #     p = dict(zip(classes, row.tolist(), strict=True))
        #     outputs.append(Output(label=max(p, key=p.get), probabilities=p))
        # return outputs
        raise NotImplementedError(
            "turn the batch `inputs` into a list of Output with self.model"
        )
        # ---- END REPLACE ----

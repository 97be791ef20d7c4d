"""The model behind the service: the only file you need to edit.

1. Train with named features (DMatrix(x, feature_names=[...]) or a DataFrame),
   then save the booster: booster.save_model("artifacts/model.json")
   (scikit-learn API: model.get_booster().save_model("artifacts/model.json")).
2. Describe one request in Input (one field per feature, named as in training)
   and one answer in Output (pydantic models: they validate requests and
   document the API).
3. Write predict(): it gets a whole batch of inputs, returns one output each.
"""

from pathlib import Path

import xgboost
from pydantic import BaseModel, Field


class Input(BaseModel):
    """One instance to score: one field per feature the model was trained on."""

    # ---- REPLACE with your model's features ----
    # Bounds reject nonsense before it reaches the model (a 422 naming the field).
    sepal_length: float = Field(gt=0, le=100, description="Sepal length (cm).")
    sepal_width: float = Field(gt=0, le=100, description="Sepal width (cm).")
    petal_length: float = Field(gt=0, le=100, description="Petal length (cm).")
    petal_width: float = Field(gt=0, le=100, description="Petal width (cm).")
    # ---- END REPLACE ----

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "sepal_length": 5.1,
                    "sepal_width": 3.5,
                    "petal_length": 1.4,
                    "petal_width": 0.2,
                }
            ]
        }
    }


class Output(BaseModel):
    """The prediction for one instance."""

    # ---- REPLACE with what your model answers ----
    label: int = Field(description="Index of the predicted class.")
    probabilities: list[float] = Field(description="Probability of each class.")
    # ---- END REPLACE ----


class Model:
    """Loads the trained model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Load the booster saved as artifacts/model.json (or model.ubj)."""
        path = artifacts_dir / "model.json"
        if not path.exists():  # the binary UBJSON format, if you saved that
            path = artifacts_dir / "model.ubj"
        self.model = xgboost.Booster(model_file=path)
        self.model.set_param({"nthread": 1})  # one thread per worker: scale WORKERS

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        # ---- REPLACE with your prediction code, for example: ----
        # names = self.model.feature_names  # the column order used in training
        # rows = [[getattr(item, name) for name in names] for item in inputs]
        # probabilities = self.model.predict(xgboost.DMatrix(rows, feature_names=names))
        # (trained on a pandas DataFrame with category columns? give it one, with
        # `import pandas` and pandas added to pyproject.toml, see the README:
        # frame = pandas.DataFrame([item.model_dump() for item in inputs])[names]
        # with each category column made .astype("category") as in training, then
        # xgboost.DMatrix(frame, enable_categorical=True))
        # return [
        #     Output(label=int(row.argmax()), probabilities=row.tolist())
        #     for row in probabilities
        # ]
        raise NotImplementedError(
            "turn the batch `inputs` into a list of Output with self.model"
        )
        # ---- END REPLACE ----

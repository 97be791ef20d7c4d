"""The model behind the service: the only file you need to edit.

1. Train with named features (lightgbm.Dataset(x, y, feature_name=[...]) or a
   DataFrame), then save the booster: booster.save_model("artifacts/model.txt")
   (scikit-learn API: model.booster_.save_model("artifacts/model.txt")).
2. Describe one request in Input (one field per feature, named as in training)
   and one answer in Output (pydantic models: they validate requests and
   document the API).
3. Write predict(): it gets a whole batch of inputs, returns one output each.
"""

from pathlib import Path

import lightgbm
from pydantic import BaseModel, Field


class Input(BaseModel):
    """One patient: one field per feature the model was trained on."""

    # ---- REPLACE with your model's features ----
    # Bounds reject nonsense before it reaches the model (a 422 naming the field).
    age: float = Field(ge=0, le=120, description="Age in years.")
    sex: int = Field(ge=1, le=2, description="Sex, coded 1 or 2.")
    bmi: float = Field(gt=0, le=100, description="Body mass index.")
    bp: float = Field(gt=0, le=300, description="Average blood pressure.")
    s1: float = Field(ge=0, le=1000, description="Total serum cholesterol.")
    s2: float = Field(ge=0, le=1000, description="Low-density lipoproteins.")
    s3: float = Field(ge=0, le=1000, description="High-density lipoproteins.")
    s4: float = Field(ge=0, le=1000, description="Total cholesterol / HDL.")
    s5: float = Field(ge=0, le=1000, description="Log of serum triglycerides.")
    s6: float = Field(ge=0, le=1000, description="Blood sugar level.")
    # ---- END REPLACE ----

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "age": 59,
                    "sex": 2,
                    "bmi": 32.1,
                    "bp": 101,
                    "s1": 157,
                    "s2": 93.2,
                    "s3": 38,
                    "s4": 4,
                    "s5": 4.86,
                    "s6": 87,
                }
            ]
        }
    }


class Output(BaseModel):
    """The prediction for one instance."""

    # ---- REPLACE with what your model answers ----
    progression: float = Field(description="Predicted disease progression.")
    # ---- END REPLACE ----


class Model:
    """Loads the trained model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Load the booster saved with save_model("artifacts/model.txt")."""
        self.model = lightgbm.Booster(model_file=artifacts_dir / "model.txt")

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        # ---- REPLACE with your prediction code, for example: ----
        # names = self.model.feature_name()  # the column order used in training
        # rows = [[getattr(item, name) for name in names] for item in inputs]
        # (trained on a pandas DataFrame with category columns? give it one, with
        # `import pandas` and pandas added to pyproject.toml, see the README:
        # rows = pandas.DataFrame([item.model_dump() for item in inputs])[names]
        # with each category column made .astype("category") as in training)
        # values = self.model.predict(rows, num_threads=1)  # 1 thread per worker
        # return [Output(progression=float(value)) for value in values]
        raise NotImplementedError(
            "turn the batch `inputs` into a list of Output with self.model"
        )
        # ---- END REPLACE ----

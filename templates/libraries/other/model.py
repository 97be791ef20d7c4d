"""The model behind the service: the only file you need to edit.

Any Python code can serve here: rules, a library not listed in the template,
or a model you load yourself.
1. Describe one request in Input and one answer in Output (pydantic models:
   they validate requests and document the API).
2. Write load() if your model needs files from artifacts/ (or nothing at all).
3. Write predict(): it gets a whole batch of inputs, returns one output each.
"""

from pathlib import Path

from pydantic import BaseModel, Field


class Input(BaseModel):
    """One instance to score."""

    # ---- REPLACE with your model's inputs ----
    text: str = Field(min_length=1, max_length=10_000, description="Text to classify.")
    # ---- END REPLACE ----

    model_config = {
        "json_schema_extra": {"examples": [{"text": "I love this product"}]}
    }


class Output(BaseModel):
    """The prediction for one instance."""

    # ---- REPLACE with what your model answers ----
    label: str = Field(description="The predicted class.")
    score: float = Field(description="Confidence in the label, from 0 to 1.")
    # ---- END REPLACE ----


class Model:
    """Loads the model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Load what predict() needs from artifacts_dir (nothing by default)."""
        # ---- REPLACE with your loading code, for example: ----
        # self.words = (artifacts_dir / "positive_words.txt").read_text().split()
        # ---- END REPLACE ----

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        # ---- REPLACE with your prediction code, for example: ----
        # return [
        #     Output(label="positive", score=1.0) if "love" in item.text.lower()
        #     else Output(label="negative", score=0.5)
        #     for item in inputs
        # ]
        raise NotImplementedError("turn the batch `inputs` into a list of Output")
        # ---- END REPLACE ----

"""The model behind the service: the only file you need to edit.

1. Export your trained network with an example batch x (no Python class is
   needed to load it back):
       batch = torch.export.Dim("batch", min=1, max=4096)
       program = torch.export.export(net.eval(), (x,), dynamic_shapes=({0: batch},))
       torch.export.save(program, "artifacts/model.pt2")
   Inputs of varying length (texts) are several tensors, each with its own Dim:
   token ids and offsets for nn.EmbeddingBag, or a padded batch and its lengths:
       tokens = torch.export.Dim("tokens", min=1, max=1_000_000)
       program = torch.export.export(
           net.eval(), (ids, offsets), dynamic_shapes=({0: tokens}, {0: batch})
       )
   README.md, "A text model", has the whole recipe, vocabulary file included.
2. Describe one request in Input and one answer in Output (pydantic models:
   they validate requests and document the API).
3. Write predict(): it gets a whole batch of inputs, returns one output each.
"""

from pathlib import Path
from typing import Annotated

import torch
from pydantic import BaseModel, Field

# Bounds reject nonsense before it reaches the model (a 422 that names the field).
Feature = Annotated[float, Field(ge=-1000, le=1000)]


class Input(BaseModel):
    """One instance to score."""

    # ---- REPLACE with your model's features ----
    features: list[Feature] = Field(
        min_length=8, max_length=8, description="The eight input features."
    )
    # ---- END REPLACE ----

    model_config = {"json_schema_extra": {"examples": [{"features": [0.5] * 8}]}}


class Output(BaseModel):
    """The prediction for one instance."""

    # ---- REPLACE with what your model answers ----
    label: int = Field(description="Index of the predicted class.")
    probabilities: list[float] = Field(description="Probability of each class.")
    # ---- END REPLACE ----


class Model:
    """Loads the trained model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Load the program saved with torch.export.save(..., "artifacts/model.pt2")."""
        torch.set_num_threads(1)  # one thread per worker: scale with WORKERS instead
        self.net = torch.export.load(artifacts_dir / "model.pt2").module()
        # Other files beside it are read here too, e.g. a vocabulary, one word a line:
        # words = (artifacts_dir / "vocabulary.txt").read_text(encoding="utf-8")
        # self.index = {word: i for i, word in enumerate(words.splitlines())}

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        # ---- REPLACE with your prediction code, for example: ----
        # features = torch.tensor([item.features for item in inputs])
        # with torch.inference_mode():
        #     probabilities = torch.softmax(self.net(features), dim=1)
        # return [
        #     Output(label=int(row.argmax()), probabilities=row.tolist())
        #     for row in probabilities
        # ]
        raise NotImplementedError(
            "turn the batch `inputs` into a list of Output with self.net"
        )
        # ---- END REPLACE ----

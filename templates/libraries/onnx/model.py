"""The model behind the service: the only file you need to edit.

1. Export your trained model to artifacts/model.onnx, for example
   scikit-learn:  onnx = skl2onnx.to_onnx(model, x[:1].astype("float32"))
                  Path("artifacts/model.onnx").write_bytes(onnx.SerializeToString())
   PyTorch:       torch.onnx.export(net, (x,), "artifacts/model.onnx",
                                    dynamic_shapes=({0: "batch"},))
   (any framework with an ONNX exporter works; no training code is needed here).
2. Describe one request in Input and one answer in Output (pydantic models:
   they validate requests and document the API).
3. Write predict(): it gets a whole batch of inputs, returns one output each.
"""

from pathlib import Path
from typing import Annotated

import onnxruntime
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
    label: int = Field(description="Index of the predicted class.")
    probabilities: list[float] = Field(description="Probability of each class.")
    # ---- END REPLACE ----


class Model:
    """Loads the trained model once per worker process, then predicts batches."""

    def load(self, artifacts_dir: Path) -> None:
        """Open an inference session on artifacts/model.onnx, on the CPU."""
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one thread per worker: scale WORKERS
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            artifacts_dir / "model.onnx", options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name  # e.g. "X" or "input"

    def predict(self, inputs: list[Input]) -> list[Output]:
        """Predict a batch: one Output for each Input, in the same order."""
        # ---- REPLACE with your prediction code, for example: ----
        # (add `import numpy` at the top; output names are listed by
        # [o.name for o in self.session.get_outputs()])
        # x = numpy.array([item.features for item in inputs], dtype=numpy.float32)
        # [probabilities] = self.session.run(["probabilities"], {self.input_name: x})
        # return [
        #     Output(label=int(row.argmax()), probabilities=row.tolist())
        #     for row in probabilities
        # ]
        raise NotImplementedError(
            "turn the batch `inputs` into a list of Output with self.session"
        )
        # ---- END REPLACE ----

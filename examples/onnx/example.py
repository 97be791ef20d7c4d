"""A real ONNX model for the tests: a scikit-learn pipeline on iris, via skl2onnx.

python example.py train ARTIFACTS_DIR   trains on iris, writes model.onnx
"""

import random
import sys
from pathlib import Path

# Needed by train() only (fit in scikit-learn, export to ONNX), not by the service.
TRAINING = ["scikit-learn>=1.3", "skl2onnx>=1.16"]
PREDICT = """
import numpy

x = numpy.array([item.features for item in inputs], dtype=numpy.float32)
[probabilities] = self.session.run(["probabilities"], {self.input_name: x})
return [
    Output(label=int(row.argmax()), probabilities=row.tolist())
    for row in probabilities
]
"""
LOAD = None  # the rendered default load() fits


def inputs(count: int, seed: int = 0) -> list[dict]:
    """Plausible iris measurements."""
    rng = random.Random(seed)
    return [
        {"features": [round(rng.uniform(0.1, 8), 2) for _ in range(4)]}
        for _ in range(count)
    ]


def train(artifacts: Path) -> None:
    import numpy
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    x = data.data.astype(numpy.float32)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x, data.target)
    # zipmap=False: probabilities as one float tensor, not a list of dicts.
    onnx = to_onnx(model, x[:1], options={"zipmap": False})
    (artifacts / "model.onnx").write_bytes(onnx.SerializeToString())


if __name__ == "__main__":
    train(Path(sys.argv[2]))

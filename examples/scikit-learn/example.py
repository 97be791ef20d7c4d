"""A real scikit-learn model for the demo and the tests: iris, logistic regression.

python example.py train ARTIFACTS_DIR   trains on the bundled iris data
"""

import random
import sys
from pathlib import Path

# The body of Model.predict() a scientist would write for this model.
PREDICT = """
classes = [str(c) for c in self.model.classes_]
rows = self.model.predict_proba([item.features for item in inputs])
outputs = []
for row in rows:
    p = dict(zip(classes, row.tolist(), strict=True))
    outputs.append(Output(label=max(p, key=p.get), probabilities=p))
return outputs
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
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    model = LogisticRegression(max_iter=500).fit(
        data.data, data.target_names[data.target]
    )
    joblib.dump(model, artifacts / "model.joblib")


if __name__ == "__main__":
    train(Path(sys.argv[2]))

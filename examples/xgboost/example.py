"""A real xgboost model for the tests: iris, a multi-class booster with named features.

python example.py train ARTIFACTS_DIR   trains on iris (bundled with scikit-learn)
"""

import random
import sys
from pathlib import Path

# Needed to run train() only (the data set), not by the service.
TRAINING = ["scikit-learn>=1.3"]
PREDICT = """
names = self.model.feature_names  # the column order used in training
rows = [[getattr(item, name) for name in names] for item in inputs]
probabilities = self.model.predict(xgboost.DMatrix(rows, feature_names=names))
return [
    Output(label=int(row.argmax()), probabilities=row.tolist())
    for row in probabilities
]
"""
LOAD = None  # the rendered default load() fits
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def inputs(count: int, seed: int = 0) -> list[dict]:
    """Plausible iris measurements, as named fields."""
    rng = random.Random(seed)
    return [
        {name: round(rng.uniform(0.1, 8), 2) for name in FEATURES} for _ in range(count)
    ]


def train(artifacts: Path) -> None:
    import xgboost
    from sklearn.datasets import load_iris

    data = load_iris()
    matrix = xgboost.DMatrix(data.data, label=data.target, feature_names=FEATURES)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "seed": 0}
    booster = xgboost.train(params, matrix, num_boost_round=30)
    booster.save_model(artifacts / "model.json")


if __name__ == "__main__":
    train(Path(sys.argv[2]))

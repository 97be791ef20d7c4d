"""The three benchmark models, loaded and called the same way by every peer.

W1: scikit-learn LogisticRegression, 20 float features, 3 classes.
W2: torch MLP 256 -> 1024 -> 1024 -> 10 in eval mode, one thread (eager module).
W3: scikit-learn RandomForestClassifier, 200 trees of depth 10, 30 features.
predict_one(features) answers one request body's `features`: a flat list (one
row) -> {"label": int, "probabilities": [float, ...]}, or a list of rows (SHAPE
rows) -> {"predictions": [int, ...], "probabilities": [[float, ...], ...]}.
Each peer converts the rows to one numpy array and scores them in one call: the
fastest reasonable way to write it by hand.
"""

import os
from pathlib import Path

import numpy as np

WORKLOAD = os.environ.get("WORKLOAD", "w1")
ARTIFACTS = Path(os.environ.get("ARTIFACTS", "artifacts"))
SHAPE = os.environ.get("SHAPE", "flat")  # flat | rows
WIDTH = {"w1": 20, "w2": 256, "w3": 30}
ROWS = 4  # rows per request with SHAPE=rows


def mlp():
    """W2's network, eager: the same layers torch.export saved for the service."""
    from torch import nn

    return nn.Sequential(
        nn.Linear(256, 1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Linear(1024, 10),
    ).eval()


def scorer():
    """probabilities(2-D numpy array) -> 2-D numpy array, for the workload."""
    if WORKLOAD != "w2":
        import joblib

        return joblib.load(ARTIFACTS / "model.joblib").predict_proba

    import torch

    torch.set_num_threads(1)
    net = mlp()
    net.load_state_dict(torch.load(ARTIFACTS / "weights.pt"))

    def probabilities(rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            tensor = torch.as_tensor(rows, dtype=torch.float32)
            return torch.softmax(net(tensor), dim=1).numpy()

    return probabilities


def load():
    """Return predict_one for the chosen workload."""
    probabilities = scorer()

    def predict_one(features: list) -> dict:
        if features and isinstance(features[0], list):  # a list of rows
            rows = probabilities(np.asarray(features, dtype=np.float64))
            predictions = rows.argmax(axis=1).tolist()
            return {"predictions": predictions, "probabilities": rows.tolist()}
        row = probabilities(np.asarray([features], dtype=np.float64))[0]
        return {"label": int(row.argmax()), "probabilities": row.tolist()}

    return predict_one


def train(folder: Path) -> None:
    """Train the chosen workload's model on generated data and save it in folder."""
    if WORKLOAD != "w2":
        import joblib
        from sklearn.datasets import make_classification
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression

        size = WIDTH[WORKLOAD]
        x, y = make_classification(
            n_samples=2000,
            n_features=size,
            n_informative=10,
            n_classes=3,
            random_state=0,
        )
        if WORKLOAD == "w1":
            model = LogisticRegression(max_iter=1000)
        else:
            model = RandomForestClassifier(200, max_depth=10, random_state=0)
        joblib.dump(model.fit(x, y), folder / "model.joblib")
        return

    import torch

    torch.manual_seed(0)
    net = mlp()  # random weights: the serving cost is the same as for trained ones
    torch.save(net.state_dict(), folder / "weights.pt")  # for the peers
    batch = torch.export.Dim("batch", min=1, max=4096)
    x = torch.randn(4, 256)
    program = torch.export.export(net, (x,), dynamic_shapes=({0: batch},))
    torch.export.save(program, folder / "model.pt2")  # for the generated service


def inputs(count: int, seed: int = 0) -> list[dict]:
    """Request bodies for the chosen workload and SHAPE."""
    import random

    rng = random.Random(seed)

    def row() -> list[float]:
        return [round(rng.uniform(-3, 3), 4) for _ in range(WIDTH[WORKLOAD])]

    if SHAPE == "rows":
        return [{"features": [row() for _ in range(ROWS)]} for _ in range(count)]
    return [{"features": row()} for _ in range(count)]


if __name__ == "__main__":  # python workload.py train FOLDER | expect COUNT
    import json
    import sys

    if sys.argv[1] == "train":
        train(Path(sys.argv[2]))
    else:
        predict_one = load()
        bodies = inputs(int(sys.argv[2]))
        print(json.dumps([[b, predict_one(b["features"])] for b in bodies]))

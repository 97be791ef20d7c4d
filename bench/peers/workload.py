"""The two benchmark models, loaded and called the same way by every peer.

W1: scikit-learn LogisticRegression, 20 float features, 3 classes.
W2: torch MLP 256 -> 1024 -> 1024 -> 10 in eval mode, one thread.
predict_one(features) -> {"label": int, "probabilities": [float, ...]}
"""

import os
from pathlib import Path

WORKLOAD = os.environ.get("WORKLOAD", "w1")
ARTIFACTS = Path(os.environ.get("ARTIFACTS", "artifacts"))


def load():
    """Return predict_one for the chosen workload."""
    if WORKLOAD == "w1":
        import joblib

        model = joblib.load(ARTIFACTS / "model.joblib")

        def predict_one(features: list[float]) -> dict:
            row = model.predict_proba([features])[0]
            return {"label": int(row.argmax()), "probabilities": row.tolist()}

        return predict_one

    import torch

    torch.set_num_threads(1)
    net = torch.export.load(ARTIFACTS / "model.pt2").module()

    def predict_one(features: list[float]) -> dict:
        with torch.inference_mode():
            row = torch.softmax(net(torch.tensor([features])), dim=1)[0]
        return {"label": int(row.argmax()), "probabilities": row.tolist()}

    return predict_one


def train(folder: Path) -> None:
    """Train the chosen workload's model on generated data and save it in folder."""
    if WORKLOAD == "w1":
        import joblib
        from sklearn.datasets import make_classification
        from sklearn.linear_model import LogisticRegression

        x, y = make_classification(
            n_samples=2000, n_features=20, n_informative=10, n_classes=3, random_state=0
        )
        joblib.dump(
            LogisticRegression(max_iter=1000).fit(x, y), folder / "model.joblib"
        )
        return

    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(256, 1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Linear(1024, 10),
    ).eval()  # random weights: the serving cost is the same as for trained ones
    batch = torch.export.Dim("batch", min=1, max=4096)
    x = torch.randn(4, 256)
    program = torch.export.export(net, (x,), dynamic_shapes=({0: batch},))
    torch.export.save(program, folder / "model.pt2")


def inputs(count: int, seed: int = 0) -> list[dict]:
    """Request bodies for the chosen workload."""
    import random

    rng = random.Random(seed)
    size = 20 if WORKLOAD == "w1" else 256
    return [
        {"features": [round(rng.uniform(-3, 3), 4) for _ in range(size)]}
        for _ in range(count)
    ]


if __name__ == "__main__":  # python workload.py train FOLDER | expect COUNT
    import json
    import sys

    if sys.argv[1] == "train":
        train(Path(sys.argv[2]))
    else:
        predict_one = load()
        bodies = inputs(int(sys.argv[2]))
        print(json.dumps([[b, predict_one(b["features"])] for b in bodies]))

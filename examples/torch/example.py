"""A real torch model for the tests: a small MLP trained a few steps on generated data.

python example.py train ARTIFACTS_DIR   trains, then saves model.pt2 with torch.export
"""

import random
import sys
from pathlib import Path

PREDICT = """
features = torch.tensor([item.features for item in inputs])
with torch.inference_mode():
    probabilities = torch.softmax(self.net(features), dim=1)
return [
    Output(label=int(row.argmax()), probabilities=row.tolist())
    for row in probabilities
]
"""
LOAD = None
# Installed first and alone in the test environment: the CPU build, pinned.
PREINSTALL = ["torch==2.13.0"]


def inputs(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"features": [rng.uniform(-2, 2) for _ in range(8)]} for _ in range(count)]


def train(artifacts: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()  # three classes
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(50):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(net.eval(), (x[:4],), dynamic_shapes=({0: batch},))
    torch.export.save(program, artifacts / "model.pt2")


if __name__ == "__main__":
    train(Path(sys.argv[2]))

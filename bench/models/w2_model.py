"""W2: a torch MLP 256 -> 1024 -> 1024 -> 10, one thread per worker."""

from pathlib import Path

import numpy as np
import torch

from .shape import make  # the request shape: shape_flat.py or shape_rows.py

Input, Output, Scored = make(256)


class Model(Scored):
    def load(self, artifacts_dir: Path) -> None:
        torch.set_num_threads(1)
        self.net = torch.export.load(artifacts_dir / "model.pt2").module()

    def scores(self, rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            tensor = torch.as_tensor(rows, dtype=torch.float32)
            return torch.softmax(self.net(tensor), dim=1).numpy()

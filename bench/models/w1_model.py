"""W1: a scikit-learn LogisticRegression over 20 features, 3 classes."""

from pathlib import Path

import joblib
import numpy as np

from .shape import make  # the request shape: shape_flat.py or shape_rows.py

Input, Output, Scored = make(20)


class Model(Scored):
    def load(self, artifacts_dir: Path) -> None:
        self.model = joblib.load(artifacts_dir / "model.joblib")

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(rows)

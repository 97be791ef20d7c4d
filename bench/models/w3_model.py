"""W3: a scikit-learn RandomForestClassifier, 200 trees of depth 10, 30 features."""

from pathlib import Path

import joblib
import numpy as np

from .shape import make  # the request shape: shape_flat.py or shape_rows.py

Input, Output, Scored = make(30)


class Model(Scored):
    def load(self, artifacts_dir: Path) -> None:
        self.model = joblib.load(artifacts_dir / "model.joblib")

    def scores(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(rows)

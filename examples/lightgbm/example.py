"""A real lightgbm model for the tests: diabetes progression, a regression booster.

python example.py train ARTIFACTS_DIR   trains on the diabetes data bundled with
                                        scikit-learn (unscaled, as a clinic records it)
"""

import random
import sys
from pathlib import Path

# Needed to run train() only (the data set), not by the service.
TRAINING = ["scikit-learn>=1.3"]
PREDICT = """
names = self.model.feature_name()  # the column order used in training
rows = [[getattr(item, name) for name in names] for item in inputs]
values = self.model.predict(rows, num_threads=1)  # one thread per worker
return [Output(progression=float(value)) for value in values]
"""
LOAD = None  # the rendered default load() fits
RANGES = {  # plausible values of each feature, as in the data set
    **{"age": (19, 79), "bmi": (18, 42), "bp": (62, 133), "s1": (97, 301)},
    **{"s2": (41, 243), "s3": (22, 99), "s4": (2, 9), "s5": (3.3, 6.1)},
    **{"s6": (58, 124)},
}


def inputs(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [
        {
            "sex": rng.choice([1, 2]),
            **{name: round(rng.uniform(*span), 2) for name, span in RANGES.items()},
        }
        for _ in range(count)
    ]


def train(artifacts: Path) -> None:
    import lightgbm
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    dataset = lightgbm.Dataset(data.data, data.target, feature_name=data.feature_names)
    params = {"objective": "regression", "num_leaves": 15, "seed": 0, "verbose": -1}
    booster = lightgbm.train(params, dataset, num_boost_round=50)
    booster.save_model(artifacts / "model.txt")


if __name__ == "__main__":
    train(Path(sys.argv[2]))

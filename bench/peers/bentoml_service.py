"""Peer: a BentoML service with one worker; JSON keys are the API's arguments."""

import bentoml
from workload import load


@bentoml.service(workers=1)
class Bench:
    def __init__(self) -> None:
        self.predict_one = load()

    @bentoml.api(route="/v1/predict")
    def predict(self, features: list[float] | list[list[float]]) -> dict:
        return self.predict_one(features)

"""Peer: an MLServer custom runtime with a custom REST route for the same JSON API."""

from fastapi import Request
from mlserver import MLModel
from mlserver.handlers import custom_handler
from workload import load


class Bench(MLModel):
    async def load(self) -> bool:
        self.predict_one = load()
        return True

    @custom_handler(rest_path="/v1/predict")
    async def predict_json(self, request: Request) -> dict:
        body = await request.json()
        return self.predict_one(body["features"])

"""Peer: FastAPI with a sync endpoint (run in the thread pool), served by uvicorn."""

from fastapi import FastAPI
from pydantic import BaseModel
from workload import load

app = FastAPI()
predict_one = load()


class Input(BaseModel):
    features: list[float] | list[list[float]]  # one row, or rows (SHAPE=rows)


class Output(BaseModel):
    label: int | None = None
    predictions: list[int] | None = None
    probabilities: list[float] | list[list[float]]


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@app.post("/v1/predict", response_model_exclude_none=True)
def predict(body: Input) -> Output:
    return Output(**predict_one(body.features))

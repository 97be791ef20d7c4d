"""Peer: a plain Sanic app whose async handler calls the model directly."""

from sanic import Sanic
from sanic.response import json
from workload import load

app = Sanic("naive")
predict_one = load()


@app.get("/healthz")
async def healthz(request):
    return json({"status": "ok"})


@app.post("/v1/predict")
async def predict(request):
    return json(predict_one(request.json["features"]))

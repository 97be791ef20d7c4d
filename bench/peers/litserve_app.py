"""Peer: LitServe with one worker on the CPU (its defaults otherwise)."""

import os

import litserve as ls
from workload import load


class API(ls.LitAPI):
    def setup(self, device):
        self.predict_one = load()

    def decode_request(self, request):
        return request["features"]

    def predict(self, features):
        return self.predict_one(features)

    def encode_response(self, output):
        return output


if __name__ == "__main__":
    server = ls.LitServer(
        API(api_path="/v1/predict"),
        accelerator="cpu",
        workers_per_device=1,
        healthcheck_path="/healthz",
    )
    server.run(
        port=int(os.environ["PORT"]), host="127.0.0.1", generate_client_file=False
    )

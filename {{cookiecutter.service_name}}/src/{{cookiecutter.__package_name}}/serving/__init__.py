"""The serving core: everything between HTTP and model.py, one concern a module.

server    start: check settings, rules and dependencies; run the workers
app       create_app(): the parts below, put together
lifecycle each worker's start (batcher, model load) and stop
middleware request ids, API_TOKEN, the log line and metrics of every request
health    /healthz /readyz /metrics        predict  /v1/predict /v1/model
docs      /openapi.json /docs (Swagger UI)   openapi  the document, from the routes
v2        /v2/... Open Inference Protocol  tensors  v2 tensors <-> Input, Output
inputs    request body -> Input            schemas  Batch, Predictions, Error
runtime   the model: load, warm-up, the one predict path (predict, check, rules)
storage   ARTIFACTS_URI: model files fetched from object storage at start
batching  concurrent requests -> batches, in the predict thread
fastpath  when a lone request runs predict() inline on the event loop
rules, conditions   rules.yaml             parity   does predict() reproduce it?
reload    rules.yaml again on SIGHUP, checked first, switched between batches
metrics, monitoring, logs, deferred        what the service says about itself
reference live values counted against artifacts/reference.json (drift)
settings  environment variables            errors   the error envelope
cors      CORS_ORIGINS                     compat   reaches into dependencies
shadow    copies of requests to a candidate (SHADOW_URL), answers compared
"""

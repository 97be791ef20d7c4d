"""What the template's tests, bench scripts and scripts share (one concern a module).

Stdlib only at import, except `environments` (pytest) and `metrics`
(prometheus_client), so scripts/demo.py runs on a bare Python 3.11. The tests find
it through pytest's `pythonpath`; bench/ and scripts/ through the `harness` link
beside their scripts (bench/harness, scripts/harness -> ../harness).
"""

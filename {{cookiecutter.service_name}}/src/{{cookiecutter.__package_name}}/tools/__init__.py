"""Tools for the people who build the service, never imported by the server.

validate, cases, reports   golden cases: in-process or against a live URL
drift, evaluate            validate --drift (which input changed), --evaluate
                           (logged answers against labels that came later)
compare                    two live services, the same inputs: where they differ
parity                     record what the trained model answers (make parity)
reference                  record the training reference for drift (make reference)
rules_check                check rules.yaml, try it on inputs (make rules-check)
smoke                      the built image passes the golden cases (make smoke)
loadtest, client           load-test a running service; send it the example
monitoring, dashboard      alert rules and a Grafana dashboard (make monitoring)
"""

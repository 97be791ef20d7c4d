"""Tools for the people who build the service, never imported by the server.

validate, cases, reports   golden cases: in-process or against a live URL
compare                    two live services, the same inputs: where they differ
parity                     record what the trained model answers
rules_check                check rules.yaml without starting the service
loadtest, client           load-test a running service; send it the example
"""

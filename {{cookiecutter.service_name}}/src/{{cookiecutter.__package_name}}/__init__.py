"""{{ cookiecutter.service_name }}: a model served over HTTP."""

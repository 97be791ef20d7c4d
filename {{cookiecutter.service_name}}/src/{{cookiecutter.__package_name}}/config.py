"""Names fixed when the service was rendered from the template."""

SERVICE_NAME = "{{ cookiecutter.service_name }}"
PACKAGE_NAME = "{{ cookiecutter.__package_name }}"
ML_LIBRARY = "{{ cookiecutter.ml_library }}"
TEMPLATE_VERSION = "{{ cookiecutter._template_version }}"
METRICS_NAMESPACE = PACKAGE_NAME  # Prometheus names allow no '-'
MODEL_FILE = f"src/{PACKAGE_NAME}/model.py"  # named in messages to the scientist

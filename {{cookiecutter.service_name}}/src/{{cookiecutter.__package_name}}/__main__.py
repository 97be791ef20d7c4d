"""Start the service: python -m {{ cookiecutter.__package_name }}."""

from .serving.server import main

main()

"""Start the service: python -m {{ cookiecutter.__package_name }}."""

from .server import main

main()

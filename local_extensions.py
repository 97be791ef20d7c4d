"""A Jinja filter for cookiecutter.json: refuse a service_name that is a path.

cookiecutter makes the service folder, with every parent folder a '/' in the name
implies, before pre_gen_project runs, and on a refusal removes only the service
folder: `a/b` would leave an empty `a` behind. The filter runs while cookiecutter.json
is rendered, before anything is written; the hook checks everything else.
"""

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

ALLOWED = (
    "lowercase letters, digits and '-', starting with a letter, not ending "
    "with '-', at most 40 characters (e.g. 'iris-classifier')"
)  # as in hooks/pre_gen_project.py


def one_folder(name: str) -> str:
    """The name as it is, if it names one folder; else refuse it as the hook would."""
    if "/" in name or "\\" in name:
        problem = f"service_name {name!r} is not a DNS-1123 label"
        raise FailedHookException(f"ERROR: {problem}; use {ALLOWED}.")
    return name


class ServiceName(Extension):
    """Adds the `one_folder` filter (listed in `_extensions` in cookiecutter.json)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["one_folder"] = one_folder

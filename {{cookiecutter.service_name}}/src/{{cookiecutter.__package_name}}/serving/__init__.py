"""The serving core: routes as Sanic blueprints, by area."""

"""The API's routes, one module per concern; :func:`tidings.api.app.create_app` includes
each module's ``router``."""

"""The web shell: the FastAPI app, request dependencies, error rendering, templates and assets."""

"""The web layer: the FastAPI application, its dependencies, pages and static files."""

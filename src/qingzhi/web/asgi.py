"""ASGI entry point for uvicorn: ``qingzhi.web.asgi:app``."""

from qingzhi.web.app import create_app

app = create_app()

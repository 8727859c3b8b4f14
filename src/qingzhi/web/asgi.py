"""ASGI entry point for uvicorn: ``qingzhi.web.asgi:app``."""

from qingzhi.runtime import tune_gc
from qingzhi.web.app import create_app

app = create_app()
tune_gc()

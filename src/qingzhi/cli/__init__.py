"""The ``qingzhi`` command line (on top, beside ``web``): thin commands over the same services
as the HTTP API. ``main`` holds the app and most commands; ``accounts`` the user and token
commands; ``hotspot`` the analysis command line; ``common`` what they share."""

from qingzhi.cli.main import app

__all__ = ["app"]

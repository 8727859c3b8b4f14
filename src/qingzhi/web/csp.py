"""The Content-Security-Policy every answer carries.

Everything comes from the server's own origin: no inline script, no other host. Two additions,
each for a reason:

- ``media-src 'self' blob:`` — hls.js (the body-camera player) feeds the ``<video>`` element
  through a Media Source, whose URL is a ``blob:`` URL the page made itself; without ``blob:`` a
  stream would load and never play.
- the body-camera origins (``QINGZHI_CAMERA_ORIGINS``): a stream on another host (the camera
  platform's HLS server) is fetched by hls.js (``connect-src``) or played by the browser's own
  player (``media-src``); exactly those origins are added to both, nothing else.

The vector base map needs nothing more: MapLibre GL's worker is a module script of the server's
own origin (``/static/vendor/maplibre-gl-…/maplibre-gl-worker.mjs``, allowed by ``script-src
'self'``, which ``worker-src`` falls back to), its tiles and style come from the same origin, and
its labels are drawn in the page from local fonts (no glyph server).
"""

from __future__ import annotations

from collections.abc import Sequence

from qingzhi.config import Settings


def content_security_policy(camera_origins: Sequence[str] = ()) -> str:
    """The policy, with the body-camera origins allowed for media and its requests."""
    extra = "".join(" " + origin for origin in camera_origins)
    return (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        f"script-src 'self'; connect-src 'self'{extra}; media-src 'self' blob:{extra}; "
        "frame-ancestors 'none'; form-action 'self'"
    )


def policy_of(settings: Settings) -> str:
    """The policy for these settings."""
    return content_security_policy(settings.camera_origin_list)


CSP = content_security_policy()  # without camera origins (the default settings)

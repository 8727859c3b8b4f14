"""The alert sound of a new urgent call, synthesised here (no recording, no licence to track).

``alert_wav()`` is a short two-tone chime (880 Hz then 660 Hz, twice, soft attack and decay) as
16-bit mono PCM at 16 kHz; ``python -m qingzhi.web.sounds`` writes it to
``web/static/audio/alert.wav``, the file the pages play (a test checks that the two agree).
"""

from __future__ import annotations

import io
import logging
import math
import struct
import wave
from pathlib import Path

log = logging.getLogger(__name__)

RATE = 16_000
TONES = ((880.0, 0.16), (660.0, 0.22), (0.0, 0.08), (880.0, 0.16), (660.0, 0.22))
VOLUME = 0.45
ALERT_FILE = Path(__file__).parent / "static" / "audio" / "alert.wav"


def _tone(freq: float, seconds: float) -> list[int]:
    n = int(RATE * seconds)
    attack, release = int(RATE * 0.01), int(RATE * 0.06)
    out = []
    for i in range(n):
        env = min(1.0, i / attack if attack else 1.0, (n - i) / release if release else 1.0)
        value = math.sin(2 * math.pi * freq * i / RATE) if freq else 0.0
        out.append(int(32767 * VOLUME * env * value))
    return out


def alert_wav() -> bytes:
    """The alert chime as a WAV file's bytes."""
    samples = [s for freq, seconds in TONES for s in _tone(freq, seconds)]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def main() -> None:
    """Write the alert sound into the static folder."""
    ALERT_FILE.parent.mkdir(parents=True, exist_ok=True)
    ALERT_FILE.write_bytes(alert_wav())
    log.info("wrote %s", ALERT_FILE)


if __name__ == "__main__":
    main()

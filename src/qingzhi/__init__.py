"""qingzhi (情指): command and intelligence platform for a county public security bureau."""

__version__ = "0.1.0"

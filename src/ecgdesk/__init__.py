"""ECG Desk: diagnostic ECG services from the recording to a signed report and a clean claim."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecgdesk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]

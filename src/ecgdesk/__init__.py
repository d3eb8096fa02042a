"""ECG Desk: diagnostic ECG services from the recording to a signed report and a clean claim."""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__`` from the installed metadata, read on first use (importing ecgdesk stays instant)."""
    if name != "__version__":
        raise AttributeError(f"module 'ecgdesk' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("ecgdesk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        value = "0.0.0"
    globals()["__version__"] = value
    return value

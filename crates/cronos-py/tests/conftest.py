"""Shared fixtures of the Python tests."""
import signal

import pytest


@pytest.fixture
def sigint_raises():
    """Installs Python's default SIGINT handler for one test and restores the old one.

    A background job or `nohup` starts Python with SIGINT ignored; then a SIGINT sent by a
    test would never reach the solver's interrupt check and the fit would run to its limit.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)

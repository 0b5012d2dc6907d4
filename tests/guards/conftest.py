"""The platforms of the takedown tests (tests/takedowns/conftest.py), for guards that send notices."""

from tests.takedowns.conftest import mail_platform, sim_platform

__all__ = ["mail_platform", "sim_platform"]

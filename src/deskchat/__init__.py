"""deskchat: live chat for IT service desks."""

__version__ = "0.1.0"

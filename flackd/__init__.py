"""flackd: the Flack chat server.

This module holds only the version, so that ``import flackd.codec`` (which flackcli does)
pulls in nothing but the standard library.
"""

__version__ = "0.2.0"

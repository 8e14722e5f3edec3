"""flackcli: the Flack terminal client, its client library and script commands.

Imports nothing from flackd except ``flackd.codec``.
"""

__version__ = "0.2.0"

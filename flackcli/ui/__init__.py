"""The full-screen client: a pure view model (``view``), pure input handling (``input``),
and the prompt-toolkit shell around them.

Owns nothing itself. ``view`` and ``input`` import only the standard library,
``flackd.codec`` and ``flackcli.notices``; importing this package imports neither
prompt-toolkit nor trio.
"""

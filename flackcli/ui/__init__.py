"""The full-screen client: a pure view model (``view``, composed of ``cells``, ``buffers``,
``reading``, ``render``, ``buffer_list`` and ``model``), pure input handling (``input``),
and the prompt-toolkit shell around them.

Owns nothing itself. The view-model modules and ``input`` import only the standard library,
``flackd.codec``, ``flackcli.notices`` and one another (tests/test_architecture.py checks
who imports what); importing this package imports neither prompt-toolkit nor trio.
"""

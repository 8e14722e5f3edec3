"""Every ```transcript block in protocol.md, executed against an in-process server.

So the spec cannot drift from the code: a changed reply breaks the build until the spec
says the same. (test_flackd_process.py runs them once more against the installed binary.)
"""

from __future__ import annotations

import pytest
import trio

from flackd.admission import ServerPassword
from tests import transcript
from tests.support import start_server

BLOCKS = transcript.blocks()


def test_protocol_md_has_transcripts() -> None:
    assert len(BLOCKS) >= 15


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
async def test_transcript(nursery: trio.Nursery, block: transcript.Block) -> None:
    password = ServerPassword(block.password) if block.password else None
    running = await start_server(nursery, password=password, opers=transcript.OPERS)
    await transcript.run(block, running.port)

# mypy: ignore-errors
# (irctest is not installed in flackd's venv and has no type information; this module is
# only ever imported by irctest's own pytest run, see tests/test_irctest.py.)
"""An irctest server controller for flackd's IRC port (github progval/irctest).

Owns: how irctest starts flackd for one test (the command line: 127.0.0.1, the server name
``My.Little.Server`` and description ``test server``, the IRC port irctest picked and a
second one for Flack's own, flood and per-address limits off for loopback; under
libfaketime when a test asks for a fast clock) and what irctest may expect of flackd (the
IRCv3 capabilities ``CAP LS`` offers, the optional behaviours it has, the ISUPPORT tokens of
its 005) and the server operator irctest OPERs as (``operuser``, ``operpassword``: given to
flackd as ``--oper`` with its scrypt hash, never the password). A server password is given
as ``--password-file``. Refuses, as skips, what
flackd does not have: TLS, services, websockets, and a fast clock without libfaketime. Imports
only the standard library and irctest.

irctest imports this module by name (``--controller flackd_irctest_controller`` with this
directory on ``PYTHONPATH``); flackd's own suite runs it that way in tests/test_irctest.py.
The flackd started is the one installed next to ``sys.executable``, or ``$FLACKD``; its log
goes to flackd.log in the test's temporary directory, and its end into ProcessStopped.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from irctest import patma
from irctest.basecontrollers import (
    BaseServerController,
    DirectoryBasedController,
    ProcessStopped,
)
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

#: The server name irctest's tests expect (004, the source of numerics).
SERVER_NAME = "My.Little.Server"

#: The server operator irctest's tests OPER as (every server's controller configures it).
OPER_NAME, OPER_PASSWORD = "operuser", "operpassword"


def oper_hash(password: str, salt: bytes = b"irctest-flackd16") -> str:
    """``password`` as ``flackd hash-password`` would print it (flackd.hub.credentials:
    ``scrypt$n$r$p$salt$key``, base64), made here with hashlib alone."""
    n, r, p = 1 << 14, 8, 1
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(key).decode()}"


#: ``--oper`` for flackd: computed once per worker.
OPER_ENTRY = f"{OPER_NAME}:{oper_hash(OPER_PASSWORD)}"


#: Every flackd this worker started. irctest stops a test's server in tearDown, which
#: unittest skips when setUp raised (a test that skips after the server started, for a
#: capability flackd does not offer): those are stopped here, by PID, when the worker exits.
_STARTED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _stop_leftovers() -> None:
    for proc in _STARTED:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session (irctest's execute)
    for proc in _STARTED:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def flackd_command() -> str:
    """The flackd executable: ``$FLACKD``, else the one installed beside this Python."""
    return os.environ.get("FLACKD") or str(Path(sys.executable).with_name("flackd"))


class FlackdController(BaseServerController, DirectoryBasedController):
    software_name = "flackd"
    supported_sasl_mechanisms: ClassVar[set[str]] = set()
    supports_sts = False
    _port_wait_interval = 0.02

    # What flackd's CAP LS offers (flackd.irc.outbound.CAPABILITIES) that irctest's
    # Capabilities names; a test REQ-ing one of these must get its ACK (no skip on NAK).
    # cap-notify, draft/chathistory, sasl and userhost-in-names have no member there.
    capabilities = frozenset(
        {
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_JOIN,
            Capabilities.EXTENDED_MONITOR,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_REDACTION,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTI_PREFIX,
            Capabilities.READ_MARKER,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        }
    )
    # Commas in JOIN, PRIVMSG/NOTICE, NAMES and KICK targets; CAP REQ -cap; LIST's
    # conditions; the channel modes +e, +I and +C; INVITE alone listing one's invitations.
    optional_behaviors = frozenset(
        {
            OptionalBehaviors.BAN_EXCEPTION_MODE,
            OptionalBehaviors.CAP_REQ_MINUS,
            OptionalBehaviors.ELIST_C,
            OptionalBehaviors.ELIST_M,
            OptionalBehaviors.ELIST_N,
            OptionalBehaviors.ELIST_T,
            OptionalBehaviors.ELIST_U,
            OptionalBehaviors.INVITE_EXCEPTION_MODE,
            OptionalBehaviors.INVITE_LIST,
            OptionalBehaviors.MULTI_JOIN,
            OptionalBehaviors.MULTI_KICK,
            OptionalBehaviors.MULTI_NAMES_COMMAND,
            OptionalBehaviors.MULTI_PRIVMSG,
            OptionalBehaviors.NO_CTCP,
        }
    )
    # flackd.irc.numerics.irc_isupport with flackd's default limits.
    isupport: ClassVar[dict[str, object]] = {
        "AWAYLEN": "200",
        "CASEMAPPING": "ascii",
        "CHANLIMIT": patma.StrRe("#:[0-9]+"),
        "CHANMODES": "beI,k,l,Cimnst",
        "CHANNELLEN": "33",
        "CHANTYPES": "#",
        "CHATHISTORY": patma.StrRe("[0-9]+"),
        "ELIST": "CMNTU",
        "EXCEPTS": "e",
        "INVEX": "I",
        "MSGREFTYPES": patma.StrRe("msgid(,timestamp)?"),
        "NETWORK": "Flack",
        "NICKLEN": "16",
        "PREFIX": "(ov)@+",
        "TARGMAX": patma.ANYSTR,
        "TOPICLEN": patma.StrRe("[0-9]+"),
        "UTF8ONLY": None,
        "WHOX": None,
        "MONITOR": patma.StrRe("[0-9]+"),
        "BOT": "B",
    }

    def registerUser(self, case, username, password=None):
        """Flack has no accounts (a session's resume token is its only secret, and it is
        not chosen by the user), so tests that register one are skipped."""
        raise NotImplementedByController("accounts: Flack has none")

    def run(
        self,
        hostname,
        port,
        *,
        password,
        ssl,
        run_services,
        faketime,
        websocket_hostname=None,
        websocket_port=None,
    ):
        if ssl:
            raise NotImplementedByController("TLS")
        if run_services:
            raise NotImplementedByController("Services")
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        # A test with a fast clock (ELIST's C and T) runs flackd under libfaketime, as
        # irctest's other controllers do; without it the test would wait minutes.
        clock = ["faketime", "-f", faketime] if faketime and shutil.which("faketime") else []
        if faketime and not clock:
            raise NotImplementedByController("faketime (libfaketime is not installed)")
        self.faketime_enabled = bool(clock)
        assert self.proc is None
        # irctest hands out 0.0.0.0; clients reach 127.0.0.1 through it, and loopback is
        # all a test server should listen on.
        self.hostname = hostname
        self.port = port
        self.create_config()  # a temp dir, removed by kill(); flackd keeps no files
        # Flack's own port is reserved through irctest too: "--port 0" could take the port
        # irctest has just picked for a server of another worker.
        _, flack_port = self.get_hostname_and_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLACKD_")}
        extra = []
        if password is not None:  # the server's password: PASS (a token then needs SASL)
            (self.directory / "password").write_text(password + "\n")
            extra = ["--password-file", str(self.directory / "password")]
        # flackd's log goes to flackd.log, unless IRCTEST_DEBUG_LOGS streams it to stdout.
        with (self.directory / "flackd.log").open("wb") as log:
            streams = {} if self.debug_mode else {"stdout": subprocess.DEVNULL, "stderr": log}
            self.proc = self.execute(
                [
                    *clock,
                    flackd_command(),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(flack_port),
                    "--irc-port",
                    str(port),
                    "--irc-name",
                    SERVER_NAME,
                    "--irc-info",  # what LINKS says the server is, as irctest expects
                    "test server",
                    "--web-port",  # no web client (its default port would be shared)
                    "0",
                    "--flood-burst",
                    "1000",
                    "--flood-rate",
                    "1000",
                    "--trusted-loopback",
                    *extra,
                    "--oper",
                    OPER_ENTRY,
                ],
                env=env,
                cwd=self.directory,
                **streams,
            )
        _STARTED.append(self.proc)

    def check_is_alive(self):
        """As irctest's, with the end of flackd's log when flackd has exited."""
        try:
            super().check_is_alive()
        except ProcessStopped as stopped:
            log = self.directory / "flackd.log" if self.directory else None
            tail = log.read_text(errors="replace")[-2000:] if log and log.is_file() else ""
            raise ProcessStopped(f"{stopped}; flackd's log ends:\n{tail}") from None


def get_irctest_controller_class():
    return FlackdController

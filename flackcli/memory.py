"""Memory: what a chat session remembers between runs of the client.

Owns: :class:`Memory` (the nick, the resume token, the channels and private
conversations in their order, the newest message id seen in each) and its JSON shape.
The caller persists it (:mod:`flackcli.files`); :class:`flackcli.supervisor.Supervisor`
keeps it up to date and :class:`flackcli.catchup.CatchUp` moves its ``last_seen``.
Imports the standard library and ``flackd.codec.text`` (case folding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flackd.codec.text import fold

__all__ = ["Memory"]


@dataclass
class Memory:
    """What a session remembers between runs (persisted by the caller as JSON)."""

    nick: str
    token: str | None = None
    channels: list[str] = field(default_factory=list)  # display names, in join order
    #: folded channel or nick (a private conversation) -> the newest message id seen
    last_seen: dict[str, str] = field(default_factory=dict)
    last_channel: str | None = None
    #: private conversations (the other person's nick), in the order they opened
    dms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "nick": self.nick,
            "token": self.token,
            "channels": list(self.channels),
            "last_seen": dict(self.last_seen),
            "last_channel": self.last_channel,
            "dms": list(self.dms),
        }

    @classmethod
    def from_json(cls, data: dict[str, object], nick: str) -> Memory:
        def strings(value: object) -> list[str]:
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        seen = data.get("last_seen")
        token = data.get("token")
        last = data.get("last_channel")
        return cls(
            nick=str(data.get("nick") or nick),
            token=token if isinstance(token, str) else None,
            channels=strings(data.get("channels")),
            last_seen={
                str(k): v
                for k, v in (seen.items() if isinstance(seen, dict) else [])
                if isinstance(v, str)
            },
            last_channel=last if isinstance(last, str) else None,
            dms=strings(data.get("dms")),
        )

    # -- changes: each returns whether the caller should persist the memory ------------

    def dm_keys(self) -> set[str]:
        """The folded nicks of the private conversations."""
        return {fold(name) for name in self.dms}

    def remember_dm(self, nick: str) -> bool:
        """A private conversation with ``nick`` is open (True if it is new)."""
        if fold(nick) in self.dm_keys():
            return False
        self.dms.append(nick)
        return True

    def forget_dm(self, nick: str) -> bool:
        """The private conversation with ``nick`` was closed (True if there was one)."""
        key = fold(nick)
        dms = [name for name in self.dms if fold(name) != key]
        if len(dms) == len(self.dms):
            return False
        self.dms = dms
        self.last_seen.pop(key, None)
        return True

    def rename_dm(self, old: str, new: str) -> bool:
        """The other person of a private conversation changed nick: follow them (True if
        ``old`` was such a person)."""
        old_key, new_key = fold(old), fold(new)
        if old_key not in self.dm_keys() or old_key == new_key:
            return False
        self.dms = [new if fold(name) == old_key else name for name in self.dms]
        if old_key in self.last_seen:
            self.last_seen[new_key] = self.last_seen.pop(old_key)
        return True

    def remember_channel(self, channel: str) -> None:
        """``channel`` is joined: kept (once, in join order) and the last one used."""
        if fold(channel) not in {fold(name) for name in self.channels}:
            self.channels.append(channel)
        self.last_channel = channel

    def forget_channel(self, channel: str) -> bool:
        """``channel`` was left (or we were kicked): forgotten, with what was seen in it;
        True if it was one of the channels kept."""
        key = fold(channel)
        before = len(self.channels)
        self.channels = [name for name in self.channels if fold(name) != key]
        self.last_seen.pop(key, None)
        if self.last_channel and fold(self.last_channel) == key:
            self.last_channel = self.channels[-1] if self.channels else None
        return len(self.channels) != before

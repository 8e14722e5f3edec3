"""The IRC front end: IRC clients (weechat, irssi, bots) in the same chat as Flack's.

A codec and a translator, both sans-IO, over the same hub as Flack's own port:

- :mod:`flackd.irc.wire`: IRC lines parsed and formatted (tags, prefixes, parameters),
  formatting codes and CTCP;
- :mod:`flackd.irc.inbound`: one client's IRC commands as hub commands (the command
  table), handed to the server as :mod:`flackd.irc.actions`;
- :mod:`flackd.irc.chathistory`: CHATHISTORY and REDACT;
- :mod:`flackd.irc.registration`: CAP negotiation, PASS, NICK, USER and AUTHENTICATE
  before registration, and registering (NICK, or RESUME with a token);
- :mod:`flackd.irc.queries`: the queries answered from a read-only view of the hub (WHO,
  WHOIS, ISON, ...);
- :mod:`flackd.irc.modes`: channel modes and operators (MODE, KICK) both ways;
- :mod:`flackd.irc.ctcp`: CTCP queries (other than ACTION) as Flack's CTCP, both ways;
- :mod:`flackd.irc.sasl`: SASL PLAIN with the nick and the resume token;
- :mod:`flackd.irc.presence`: AWAY and SETNAME, told to others (away-notify, setname),
  and MONITOR (extended-monitor);
- :mod:`flackd.irc.help`: HELP and HELPOP (IRC's own help texts), LINKS;
- :mod:`flackd.irc.elist`: LIST's conditions (ELIST);
- :mod:`flackd.irc.markers`: MARKREAD (draft/read-marker) as Flack's read markers;
- :mod:`flackd.irc.outbound`: the hub's events as IRC lines for one client;
- :mod:`flackd.irc.numerics`: the welcome burst, ISUPPORT, numerics and error mapping.

``flackd.server`` does the I/O, with every limit of Flack's port. Nothing here imports trio
or the hub, and nothing outside this package knows an IRC numeric.
"""

from flackd.irc.actions import Disconnect, Run
from flackd.irc.inbound import Directory, IrcClient
from flackd.irc.outbound import CAPABILITIES, Renderer
from flackd.irc.presence import Announce, Monitored, Monitors, NickPresence
from flackd.irc.wire import IrcMessage, IrcParseError, parse

__all__ = [
    "CAPABILITIES",
    "Announce",
    "Directory",
    "Disconnect",
    "IrcClient",
    "IrcMessage",
    "IrcParseError",
    "Monitored",
    "Monitors",
    "NickPresence",
    "Renderer",
    "Run",
    "parse",
]

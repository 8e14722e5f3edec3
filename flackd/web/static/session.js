// The session with flackd: the WebSocket (connection.js), registering (RESUME <token>,
// or NICK <name>), and reading server lines: blocks are gathered whole, replies to our own
// commands are matched to them (protocol.md: every command gets exactly one final reply,
// in order), and the rest goes to the handlers of the subclasses (sync.js, client.js).

import { Connection, socketUrl } from './connection.js';
import { DEFAULT_MAX_LINE, formatCommand, parseLine } from './protocol.js';
import { storage } from './state.js';

// The server's password (a server started with --password-file): kept for this tab only,
// in sessionStorage, so a reload does not ask again and closing the tab forgets it.
const PASSWORD_KEY = 'flack.server-password';
const serverPassword = {
  load() { try { return window.sessionStorage.getItem(PASSWORD_KEY); } catch { return null; } },
  save(value) {
    try {
      if (value) window.sessionStorage.setItem(PASSWORD_KEY, value);
      else window.sessionStorage.removeItem(PASSWORD_KEY);
    } catch { /* storage refused: asked again on the next visit */ }
  },
};

const BLOCK_BODY = {
  HISTORY: 'msg', NAMES: 'member', LIST: 'channel', UNREAD: 'count', HELP: 'info',
  BANS: 'ban', EXCEPTS: 'ban', INVEXES: 'ban', INVITES: 'channel',
};
const RETRY_BYES = new Set(['SHUTDOWN', 'BUSY', 'TOO_MANY_CONNECTIONS']);

export class Session {
  constructor(state, ui) {
    this.state = state;
    this.ui = ui;
    this.phase = 'idle';
    this.maxLine = DEFAULT_MAX_LINE;
    this.queues = {};
    this.outbox = [];
    this.block = null;
    this.joinCtx = null;
    this.bye = null;
    this.wantNick = null;
    this.resumed = [];
    this.markTimer = null;
    this.conn = new Connection(socketUrl(), {
      open: () => this.setPhase('registering'),
      line: (line) => this.onLine(line),
      closed: (info) => this.onClosed(info),
      waiting: (info) => this.setPhase('offline', info),
    });
  }

  // --- starting and registering ----------------------------------------------------------

  start() {
    const saved = storage.load();
    if (saved.token) {
      this.state.setMe(saved.nick);
      this.connect();
    } else {
      this.setPhase('idle');
      this.askName(null, saved.nick);
    }
  }

  connect() {
    this.setPhase('connecting');
    this.conn.connect();
  }

  /** The name form was sent: register with it (on this connection or a new one);
   * `password`: the server's, when the form asked for it (then on a new connection). */
  submitName(nick, password = null) {
    this.wantNick = nick;
    this.awaitingName = false;
    if (password) serverPassword.save(password);
    if (!password && this.conn.open && this.phase === 'registering') this.send('NICK', [nick]);
    else this.connect();
  }

  setPhase(phase, info = {}) {
    this.phase = phase;
    this.ui.status(phase, info);
  }

  send(verb, params = [], text = null, pending = undefined) {
    const line = formatCommand(verb, params, text);
    if (!this.conn.send(line)) return false;
    if (pending !== undefined) (this.queues[verb] ??= []).push(pending);
    return true;
  }

  take(verb) {
    return (this.queues[verb] ?? []).shift() ?? null;
  }

  /** The socket closed: what was in flight is unconfirmed, catch-ups start again on the
   * next connection. Returns false to stay closed, or the least seconds to wait. */
  onClosed() {
    const bye = this.bye;
    this.bye = null;
    for (const verb of ['MSG', 'ACTION']) {
      for (const item of this.queues[verb] ?? []) if (item.pending === 'sending') this.state.updatePending(item, 'unconfirmed');
    }
    this.queues = {};
    this.block = null;
    this.joinCtx = null;
    for (const conv of this.state.convs.values()) {
      conv.syncing = false;
      conv.held = [];
      conv.loadingOlder = false;
    }
    const code = bye?.code;
    if (code === 'BAD_PASSWORD') {
      serverPassword.save(null);
      this.conn.stop();
      this.setPhase('idle');
      this.askName('That is not the server password.', this.wantNick ?? this.state.me ?? storage.load().nick, true);
      return false;
    }
    if (code === 'RESUMED' || code === 'QUIT') {
      this.conn.stop();
      if (code === 'QUIT') storage.save({ token: null });
      this.setPhase('stopped', { reason: code, text: bye.text });
      return false;
    }
    if (this.awaitingName) {
      this.conn.stop(); // the name form is open: connect again when it is sent
      this.setPhase('idle');
      return false;
    }
    return bye && RETRY_BYES.has(code) ? Number(bye.kv.retry) || 0 : 0;
  }

  askName(error, nick, password = false) {
    this.awaitingName = true;
    this.ui.askName(error, nick, password);
  }

  onHello(hello) {
    this.maxLine = hello.maxLine;
    this.resumed = [];
    const saved = storage.load();
    if (hello.password) {
      const password = serverPassword.load();
      if (!password) {
        this.conn.stop();
        this.setPhase('idle');
        this.askName(null, this.wantNick ?? this.state.me ?? saved.nick, true);
        return;
      }
      this.send('PASS', [], password);
    }
    if (saved.token) {
      this.resumeToken = saved.token;
      this.send('RESUME', [saved.token]);
    } else if (this.wantNick || saved.nick || this.state.me) {
      this.send('NICK', [this.wantNick || this.state.me || saved.nick]);
    } else {
      this.conn.stop();
      this.setPhase('idle');
      this.askName(null, null);
    }
  }

  // --- lines from the server -------------------------------------------------------------

  onLine(line) {
    const msg = parseLine(line);
    if (this.block) {
      if (msg.kind === BLOCK_BODY[this.block.block]) {
        this.block.lines.push(msg);
        return;
      }
      if (msg.kind === 'end' && msg.block === this.block.block) {
        const block = this.block;
        this.block = null;
        this.onBlock(block, msg);
        return;
      }
    }
    switch (msg.kind) {
      case 'hello': return this.onHello(msg);
      case 'ok': return this.onOk(msg);
      case 'err': return this.onErr(msg);
      case 'block': this.block = { ...msg, lines: [] }; return undefined;
      case 'msg': return this.onMsg(msg);
      case 'join': return this.onJoin(msg);
      case 'part': return this.onPart(msg);
      case 'quit': return this.onQuit(msg);
      case 'nick': return this.onNick(msg);
      case 'topic': return this.onTopic(msg);
      case 'deleted': return this.onDeleted(msg);
      case 'edited': return this.onEdited(msg);
      case 'mode': return this.onMode(msg);
      case 'kick': return this.onKick(msg);
      case 'ctcp': return this.onCtcp(msg);
      case 'wallops': return this.ui.notice(`${msg.nick} (wallops): ${msg.text}`);
      case 'ping': this.send('PONG', msg.token ? [msg.token] : []); return undefined;
      case 'bye': this.bye = msg; return undefined;
      case 'note': return this.onNote(msg);
      default: return undefined; // PONG, lines of later versions
    }
  }

  onOk(msg) {
    const [first] = msg.params;
    if (msg.command === 'NICK' && this.phase === 'registering') this.registered(first, msg.kv.token);
    else if (msg.command === 'RESUME') this.registered(first, msg.kv.token, msg.kv.last ?? '*');
    else this.onReply(msg);
  }

  onErr(msg) {
    const { command, code } = msg;
    if (this.phase === 'registering' && command === 'RESUME' && code === 'UNKNOWN_TOKEN') {
      const stored = storage.load().token;
      if (stored && stored !== this.resumeToken) {
        // Another tab resumed meanwhile and saved the session's new token: use that one.
        this.resumeToken = stored;
        this.send('RESUME', [stored]);
        return;
      }
      storage.save({ token: null });
      const nick = this.state.me ?? storage.load().nick;
      if (nick) this.send('NICK', [nick]);
      else this.askName(null, null);
      return;
    }
    if (this.phase === 'registering' && command === 'NICK') {
      this.askName(msg.text, this.wantNick ?? this.state.me ?? storage.load().nick);
      return;
    }
    this.onRefused(msg);
  }
}

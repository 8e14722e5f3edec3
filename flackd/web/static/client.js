// What the user does: coming back to the conversations after registering, opening them,
// loading older messages, sending (through an outbox, so what is typed while offline goes
// out once, when connected), and telling the server what has been read (MARK).

import { cleanText, isChannel, maxTextBytes, splitText } from './protocol.js';
import { storage } from './state.js';
import { Sync } from './sync.js';

const PAGE = 50;
const FIRST_SCREEN = 100; // the CS50 original shows the last 100 messages of a channel

export class Client extends Sync {
  registered(nick, token, last) {
    this.state.setMe(nick);
    storage.save({ nick, token });
    this.wantNick = null;
    this.awaitingName = false;
    this.conn.resetBackoff();
    this.setPhase('online');
    this.ui.nameAccepted();
    const saved = storage.load();
    const state = this.state;
    let channels;
    if (last !== undefined) {
      // RESUME: the server says which channels we are in.
      channels = this.resumed;
      const inKeys = new Set(channels.map((c) => state.ensure(c).key));
      for (const conv of [...state.convs.values()]) {
        if (conv.kind === 'channel' && !inKeys.has(conv.key)) state.remove(conv.name);
      }
    } else {
      // NICK (first visit, or a token the server no longer knows): join again.
      channels = state.ordered().filter((c) => c.kind === 'channel').map((c) => c.name);
      if (!channels.length) channels = [saved.lastChannel && isChannel(saved.lastChannel) ? saved.lastChannel : '#general'];
    }
    const want = state.active?.name ?? saved.lastChannel ?? (last && last !== '*' ? last : null);
    const wantKey = want ? want.toLowerCase() : null;
    const ordered = [...channels.filter((c) => c.toLowerCase() !== wantKey), ...channels.filter((c) => c.toLowerCase() === wantKey)];
    for (const name of ordered) {
      const conv = state.ensure(name);
      conv.joined = true;
      conv.syncing = !!conv.lastId;
      conv.syncReceived = [];
      this.send('JOIN', conv.joinKey ? [name, conv.joinKey] : [name], null, { channel: name, open: false, key: conv.joinKey });
    }
    for (const conv of state.convs.values()) {
      if (conv.kind !== 'dm') continue;
      if (conv.lastId) this.catchUp(conv, conv.lastId);
      else conv.loaded = false;
    }
    // RESUME's UNREAD block names only the places with news; UNREAD ALL names every
    // conversation this session has, so a reload lists them all (quiet ones too).
    if (last !== undefined) this.send('UNREAD', ['ALL']);
    state.emit('convs');
    let open = want ? state.get(want) : null;
    if (!open && want && !isChannel(want)) open = state.ensure(want);
    if (!open || (open.kind === 'channel' && !open.joined)) {
      open = (last && last !== '*' && state.get(last)) || state.ordered()[0] || null;
    }
    if (open) this.open(open.name);
    this.flushOutbox();
  }

  open(name) {
    const state = this.state;
    const conv = state.ensure(name);
    state.setActive(conv.name);
    if (conv.kind === 'dm' && !conv.loaded && !conv.syncing && this.phase === 'online' && !this.queues.HISTORY?.some((e) => e.conv === conv)) {
      this.send('HISTORY', [conv.name, String(PAGE)], null, { conv, purpose: 'latest' });
    } else {
      this.fill(conv);
    }
    if (this.ui.seeing(conv)) this.markRead(conv);
  }

  /** The first time a conversation is shown, fetch older messages up to a screenful. */
  fill(conv) {
    if (conv.filled || !conv.loaded || !conv.more) return;
    const have = conv.items.filter((i) => i.type === 'msg' && i.id).length;
    conv.filled = true;
    if (have < FIRST_SCREEN) this.loadOlder(conv, FIRST_SCREEN - have);
  }

  loadOlder(conv, count = PAGE) {
    if (conv.loadingOlder || !conv.more || this.phase !== 'online') return false;
    const oldest = conv.oldestId;
    if (!oldest) return false;
    conv.loadingOlder = true;
    return this.send('HISTORY', [conv.name, 'BEFORE', oldest, String(count)], null, { conv, purpose: 'older' });
  }

  /** Send (now, or once connected) `text` as one or more messages to `target`. */
  say(target, text, action = false) {
    const state = this.state;
    if (isChannel(target) && !state.get(target)?.joined) {
      this.ui.notice(`You are not in ${target}: /join ${target} first.`, { error: true });
      return false;
    }
    const conv = state.ensure(target);
    const verb = action ? 'ACTION' : 'MSG';
    const pieces = splitText(text, maxTextBytes(verb, conv.name, this.maxLine));
    for (const piece of pieces) this.outbox.push(state.addPending(conv, piece, action));
    this.flushOutbox();
    return pieces.length > 0;
  }

  flushOutbox() {
    if (this.phase !== 'online') return;
    if ([...this.state.convs.values()].some((c) => c.syncing)) return;
    while (this.outbox.length) {
      const item = this.outbox[0];
      if (item.pending !== 'queued') {
        this.outbox.shift();
        continue;
      }
      const verb = item.action ? 'ACTION' : 'MSG';
      if (!this.send(verb, [item.target], item.text, item)) return;
      this.outbox.shift();
      this.state.updatePending(item, 'sending');
    }
  }

  retry(item) {
    this.state.updatePending(item, 'queued');
    this.outbox.push(item);
    this.flushOutbox();
  }

  /** Commands whose answer needs no bookkeeping beyond showing an error. */
  command(verb, params = [], text = null, pending = undefined) {
    if (this.phase !== 'online') {
      this.ui.notice('Not connected: try again once the connection is back.', { error: true });
      return false;
    }
    return this.send(verb, params, text, pending);
  }

  /** JOIN `channel` (with its key, +k, if given: kept for re-joining it, never stored). */
  join(channel, open = true, key = null) {
    const conv = this.state.get(channel);
    if (conv?.joined) {
      this.open(conv.name);
      return true;
    }
    return this.command('JOIN', key ? [channel, key] : [channel], null, { channel, open, key });
  }

  create(channel, fromDialog = false) {
    return this.command('CREATE', [channel], null, { channel, open: true, fromDialog });
  }

  edit(id, text) {
    const clean = cleanText(text).trim();
    return clean ? this.command('EDIT', [id], clean) : false;
  }

  raw(line) {
    if (/[\r\n]/.test(line)) return false;
    if (!this.conn.send(line)) this.ui.notice('Not connected.', { error: true });
    return true;
  }

  quit(text) {
    if (!this.command('QUIT', [], text || null)) {
      storage.save({ token: null });
      this.conn.stop();
      this.setPhase('stopped', { reason: 'QUIT' });
    }
  }

  /** Tell the server the newest message of `conv` has been seen (debounced), and clear
   * its badges. */
  markRead(conv, now = false) {
    if (!conv) return;
    if (conv.unread || conv.mentions) this.state.setCounts(conv, 0, 0);
    if (!conv.lastId || conv.markedId === conv.lastId || this.phase !== 'online') return;
    if (now) {
      conv.markedId = conv.lastId;
      this.send('MARK', [conv.name, conv.lastId]);
    } else {
      this.scheduleMark(conv);
    }
  }

  /** The page is going away (reload, tab closed): a read marker still waiting for its
   * debounce goes out now, so what was read stays read. */
  flushMark() {
    window.clearTimeout(this.markTimer);
    const conv = this.state.active;
    if (conv && this.ui.seeing(conv)) this.markRead(conv, true);
  }

  scheduleMark(conv) {
    window.clearTimeout(this.markTimer);
    this.markTimer = window.setTimeout(() => {
      if (this.state.active === conv && this.ui.seeing(conv)) this.markRead(conv, true);
    }, 500);
  }
}

// What the server says about conversations, into the state: history blocks (a JOIN's
// replay, older pages, the catch-up after a reconnect: HISTORY <conv> AFTER <last id>,
// deduplicated by id, with a gap line on gap=yes), live messages (held back while their
// conversation catches up), joins, parts, kicks, quits, nick and topic changes, channel
// modes and members' roles (MODE, and the BANS list), edits, deletions, and the unread
// counts the server keeps. (open, fill, markRead, scheduleMark and
// flushOutbox, called here, are the Client's: client.js.)

import { conversationOf, isChannel, mentions, modeChanges, rolePrefix } from './protocol.js';
import { Session } from './session.js';
import { storage } from './state.js';

/** The mask lists MODE +b, +e and +I answer, by block. */
const MASK_LISTS = { BANS: 'Bans', EXCEPTS: 'Ban exceptions', INVEXES: 'Invite exceptions' };

export class Sync extends Session {
  /** OK to one of our commands (registration aside). */
  /** NOTE lines: an invitation (with how to accept it), flood pacing, what a later
   * server adds: shown as a notice in the open conversation. */
  onNote(msg) {
    if (msg.code === 'INVITED' && msg.params.length >= 2) {
      const [channel, inviter] = msg.params;
      this.ui.notice(`${inviter} invites you to ${channel}: /join ${channel}`);
      return;
    }
    if (msg.text) this.ui.notice(msg.text);
  }

  onReply(msg) {
    const [first] = msg.params;
    if (msg.command === 'INVITE') {
      this.take('INVITE');
      this.ui.notice(`${first} was invited to ${msg.params[1] ?? ''}.`);
      return;
    }
    if (msg.command === 'OPER' || msg.command === 'KILL') {
      // OPER: you are a server operator now; KILL: the session you killed has ended.
      this.take(msg.command);
      if (msg.text) this.ui.notice(msg.text);
      return;
    }
    if (msg.command === 'MODE' || msg.command === 'KICK') {
      // OK MODE: a change list that changed nothing (a kick is answered by its KICK line).
      this.take(msg.command);
      if (msg.text) this.ui.notice(msg.text);
      return;
    }
    if (msg.command === 'MARK') {
      // The read marker the server keeps now (the sidebar shows it as data-read).
      const conv = this.state.get(first);
      if (conv && conv.readId !== msg.params[1]) {
        conv.readId = msg.params[1];
        this.state.emit('convs');
      }
      return;
    }
    if (msg.command === 'JOIN' || msg.command === 'CREATE') {
      const entry = this.take(msg.command) ?? { open: false };
      const conv = this.state.ensure(first);
      conv.name = first; // as the server spells it
      if (entry.key) conv.joinKey = entry.key;
      if (!conv.joined) {
        conv.joined = true;
        conv.syncing = false;
        conv.lastId = null;
        this.state.emit('convs');
      }
      this.joinCtx = conv;
      if (msg.command === 'CREATE') this.ui.created(conv.name);
      if (entry.open) this.open(conv.name);
    }
  }

  /** ERR to one of our commands (registration aside): a message not sent, a failed JOIN,
   * CREATE or HISTORY, or just a line for the user. */
  onRefused(msg) {
    const { command, code } = msg;
    const entry = this.take(command);
    if ((command === 'MSG' || command === 'ACTION') && entry) {
      this.state.updatePending(entry, 'failed', msg.text);
      return;
    }
    if (command === 'HISTORY' && entry) {
      entry.conv.loadingOlder = false;
      if (entry.purpose === 'after') this.finishSync(entry.conv);
      if (entry.purpose === 'latest') entry.conv.loaded = true;
      const { conv } = entry;
      if (code === 'NO_SUCH_NICK' && conv.kind === 'dm' && !conv.items.length) {
        // Nobody by that name, and nothing said: no conversation to keep in the sidebar.
        const wasActive = this.state.active === conv;
        this.state.remove(conv.name);
        const next = this.state.ordered()[0];
        if (wasActive && next) this.open(next.name);
      }
    }
    if ((command === 'JOIN' || command === 'CREATE') && entry?.channel) {
      const conv = this.state.get(entry.channel);
      if (conv && conv.syncing) this.finishSync(conv);
      else if (conv && !conv.loaded && !conv.items.length) this.state.remove(conv.name);
    }
    if (command === 'CREATE' && entry?.fromDialog) {
      this.ui.createError(msg);
      return;
    }
    if (command === 'MARK') return; // a read marker that could not move: nothing to show
    this.ui.notice(msg.text, { error: true, code });
  }

  onBlock(block, end) {
    const state = this.state;
    if (block.block === 'HISTORY') {
      const msgs = block.lines;
      let purpose;
      let conv;
      if (this.joinCtx && this.joinCtx.key === block.target.toLowerCase()) {
        conv = this.joinCtx;
        purpose = 'join';
        this.joinCtx = null;
      } else {
        const entry = this.take('HISTORY');
        if (!entry) return;
        ({ conv, purpose } = entry);
      }
      this.onHistory(conv, purpose, msgs, end);
    } else if (block.block === 'NAMES') {
      const conv = state.get(block.target);
      const members = block.lines;
      if (this.joinCtx && this.joinCtx === conv) {
        state.setMembers(conv, members);
        return;
      }
      const entry = this.take('NAMES');
      if (conv && conv.joined) state.setMembers(conv, members);
      const shown = members.map((m) => rolePrefix({ op: 'o', voice: 'v' }[m.role] ?? '') + m.nick);
      if (entry?.show) this.ui.notice(`${block.target} (${members.length}): ${shown.join(', ')}`);
    } else if (block.block in MASK_LISTS) {
      this.take('MODE');
      const masks = block.lines;
      const what = MASK_LISTS[block.block];
      this.ui.notice(masks.length ? `${what} of ${block.target}:` : `${block.target} has no ${what.toLowerCase()}.`);
      for (const b of masks) this.ui.notice(`${b.mask} (set by ${b.setter}, ${b.time})`);
    } else if (block.block === 'INVITES') {
      this.take('INVITE');
      const names = block.lines.map((c) => c.channel);
      this.ui.notice(names.length ? `You are invited to ${names.join(', ')}: /join one.` : 'You have no pending invitations.');
    } else if (block.block === 'LIST') {
      this.take('LIST');
      for (const c of block.lines) state.channelList.set(c.channel.toLowerCase(), { name: c.channel, members: c.members, topic: c.topic });
      if (end.more && block.lines.length) this.send('LIST', ['AFTER', block.lines[block.lines.length - 1].channel], null, {});
      else this.ui.listed();
    } else if (block.block === 'UNREAD') {
      const seen = new Set();
      for (const c of block.lines) {
        const conv = state.ensure(c.target);
        seen.add(conv.key);
        state.setCounts(conv, c.unread, c.mentions);
      }
      for (const conv of state.convs.values()) if (!seen.has(conv.key)) state.setCounts(conv, 0, 0);
    }
  }

  onHistory(conv, purpose, msgs, end) {
    const state = this.state;
    const rows = msgs;
    if (purpose === 'join' && conv.syncing) {
      const at = rows.findIndex((m) => m.id === conv.lastId);
      if (at >= 0) {
        this.receive(conv, rows.slice(at + 1));
        this.finishSync(conv);
      } else {
        this.catchUp(conv, conv.lastId); // the replay does not reach back: ask from the cursor
      }
    } else if (purpose === 'join' || purpose === 'latest') {
      state.prepend(conv, rows);
      conv.more = end.more;
      conv.loaded = true;
      // A conversation with no cursor to catch up from (new, or never loaded): what was
      // in flight when the connection broke is settled against what the server holds.
      this.settle(conv, [...rows]);
      if (state.active === conv) this.fill(conv);
    } else if (purpose === 'older') {
      const added = state.prepend(conv, rows);
      conv.more = end.more && added > 0;
      conv.loadingOlder = false;
      state.emit('items', { conv, op: 'reset', kept: 'top' });
    } else if (purpose === 'after') {
      if (end.gap) state.addLine(conv, 'gap', 'Some messages were missed here: the server no longer has them.');
      this.receive(conv, rows);
      const newest = rows.length ? rows[rows.length - 1].id : null;
      if (end.more && newest) this.catchUp(conv, newest);
      else this.finishSync(conv);
    }
    if (state.active === conv && this.ui.seeing(conv)) this.markRead(conv);
  }

  /** Messages of a catch-up, appended in order (an id we have is skipped). */
  receive(conv, rows) {
    for (const m of rows) {
      if (this.state.append(conv, m)) (conv.syncReceived ??= []).push(m);
    }
  }

  catchUp(conv, after) {
    conv.syncing = true;
    conv.syncReceived ??= [];
    this.send('HISTORY', [conv.name, 'AFTER', after, '100'], null, { conv, purpose: 'after' });
  }

  /** The catch-up of `conv` is complete: live lines held meanwhile go in (those not already
   * there), messages that were on their way when the connection broke are matched. */
  finishSync(conv) {
    const state = this.state;
    conv.syncing = false;
    const held = conv.held;
    conv.held = [];
    for (const m of held) this.deliver(conv, m);
    const received = conv.syncReceived ?? [];
    conv.syncReceived = [];
    this.settle(conv, received);
    this.flushOutbox();
  }

  /** Messages sent but not confirmed when the connection broke: the ones the server holds
   * (found among `rows`, which this consumes) are dropped as duplicates of the real
   * message; the others are shown as not sent, with Retry. */
  settle(conv, rows) {
    const state = this.state;
    for (const item of conv.items.filter((i) => i.pending === 'unconfirmed')) {
      const at = rows.findIndex((m) => state.isMe(m.author) && m.text === item.text && !!m.action === !!item.action);
      if (at >= 0) {
        rows.splice(at, 1);
        state.dropPending(item);
      } else {
        state.updatePending(item, 'failed', 'the connection broke before the server confirmed it');
      }
    }
  }

  onMsg(msg) {
    const state = this.state;
    const name = conversationOf(msg.target, msg.author, state.me ?? '');
    if (isChannel(name) && !state.get(name)?.joined) return;
    if (state.isMe(msg.author)) {
      const item = this.take(msg.action ? 'ACTION' : 'MSG');
      if (item) state.dropPending(item);
    }
    const conv = state.ensure(name);
    if (conv.syncing) conv.held.push(msg);
    else this.deliver(conv, msg);
  }

  /** A live message into its conversation, and into the unread counts if not seen. */
  deliver(conv, msg) {
    const state = this.state;
    if (!state.append(conv, msg)) return;
    if (state.isMe(msg.author)) {
      conv.markedId = msg.id; // writing moves your read marker (protocol.md, MSG)
      state.setCounts(conv, 0, 0);
    } else if (this.ui.seeing(conv)) {
      this.scheduleMark(conv);
    } else {
      state.setCounts(conv, conv.unread + 1, conv.mentions + (mentions(msg.text, state.me) ? 1 : 0));
    }
    if (conv.kind === 'dm' && !state.isMe(msg.author)) this.lastDmFrom = conv.name;
  }

  onJoin(msg) {
    const state = this.state;
    if (state.isMe(msg.nick)) {
      if (this.phase === 'registering') this.resumed.push(msg.channel);
      return;
    }
    const conv = state.get(msg.channel);
    if (!conv?.joined) return;
    state.addMember(conv, msg.nick);
    state.addLine(conv, 'event', `${msg.nick} joined ${conv.name}`);
  }

  onPart(msg) {
    const state = this.state;
    const conv = state.get(msg.channel);
    if (!conv) return;
    const why = msg.text ? ` (${msg.text})` : '';
    if (state.isMe(msg.nick)) {
      const wasActive = state.active === conv;
      state.remove(conv.name);
      this.ui.notice(`You left ${conv.name}${why}.`);
      if (wasActive) {
        const next = state.ordered()[0];
        if (next) this.open(next.name);
        else state.setActive(null);
      }
      return;
    }
    state.removeMember(conv, msg.nick);
    state.addLine(conv, 'event', `${msg.nick} left ${conv.name}${why}`);
  }

  /** KICK: an operator put someone out. You: the channel is left, as by a part of yours,
   * and said as an error, so it is not missed. */
  onKick(msg) {
    const state = this.state;
    const conv = state.get(msg.channel);
    const why = msg.text ? ` (${msg.text})` : '';
    if (state.isMe(msg.by)) this.take('KICK');
    if (state.isMe(msg.nick)) {
      const name = conv?.name ?? msg.channel;
      const wasActive = !!conv && state.active === conv;
      if (conv) state.remove(conv.name);
      if (wasActive) {
        const next = state.ordered()[0];
        if (next) this.open(next.name);
        else state.setActive(null);
      }
      this.ui.notice(`You were kicked from ${name} by ${msg.by}${why}.`, { error: true });
      return;
    }
    if (!conv?.joined) return;
    state.removeMember(conv, msg.nick);
    state.addLine(conv, 'event', `${msg.by} kicked ${msg.nick}${why}`);
  }

  /** CTCP: a client-to-client query (VERSION, PING...), shown as an event, never answered. */
  onCtcp(msg) {
    const conv = this.state.get(conversationOf(msg.target, msg.nick, this.state.me ?? ''));
    if (!conv) return;
    this.state.addLine(conv, 'event', `${msg.nick} sent CTCP ${msg.verb}${msg.text ? ` ${msg.text}` : ''}`);
  }

  /** MODE: an operator changed the channel's modes (members' roles follow +o/-o/+v/-v);
   * from `*`, the answer to a query: the modes the channel has. */
  onMode(msg) {
    const state = this.state;
    const conv = state.get(msg.channel);
    const words = msg.changes.join(' ');
    if (!isChannel(msg.channel)) { // your own user modes (protocol 1.3): shown, or changed
      this.take('MODE');
      this.ui.notice(`Your user modes${msg.nick === '*' ? '' : ' changed'}: ${words}`);
      return;
    }
    if (msg.nick === '*') {
      this.take('MODE');
      this.ui.notice(`Modes of ${conv?.name ?? msg.channel}: ${words}`);
      return;
    }
    if (state.isMe(msg.nick)) this.take('MODE');
    if (!conv?.joined) return;
    for (const change of modeChanges(msg.changes)) {
      if ((change.letter === 'o' || change.letter === 'v') && change.param) state.setRole(conv, change.param, change.letter, change.on);
    }
    state.addLine(conv, 'event', `${msg.nick} sets mode ${words}`);
  }

  onQuit(msg) {
    for (const conv of this.state.convs.values()) {
      if (conv.kind === 'channel' && this.state.removeMember(conv, msg.nick)) {
        this.state.addLine(conv, 'event', `${msg.nick} went away${msg.text ? ` (${msg.text})` : ''}`);
      }
    }
  }

  onNick(msg) {
    const state = this.state;
    if (state.isMe(msg.old)) {
      this.take('NICK');
      state.setMe(msg.nick);
      storage.save({ nick: msg.nick });
    }
    for (const conv of state.convs.values()) {
      if (conv.kind === 'channel' && state.renameMember(conv, msg.old, msg.nick)) {
        state.addLine(conv, 'event', `${msg.old} is now known as ${msg.nick}`);
      }
    }
    const dm = state.renameDm(msg.old, msg.nick);
    if (dm) {
      for (const item of dm.items) if (item.pending) item.target = msg.nick;
      state.addLine(dm, 'event', `${msg.old} is now known as ${msg.nick}`);
    }
  }

  onDeleted(msg) {
    const conv = this.state.get(conversationOf(msg.target, msg.nick, this.state.me ?? ''));
    if (conv) this.state.deleted(conv, msg.id, msg.nick, msg.reason);
  }

  onEdited(msg) {
    const conv = this.state.get(conversationOf(msg.target, msg.editor, this.state.me ?? ''));
    if (conv) this.state.edited(conv, msg.id, msg.text, msg.time);
  }

  onTopic(msg) {
    const state = this.state;
    const conv = state.get(msg.channel);
    const topic = { text: msg.text, setter: msg.setter, time: msg.time };
    if (this.joinCtx && conv === this.joinCtx) {
      state.setTopic(conv, topic);
      return;
    }
    const head = (this.queues.TOPIC ?? [])[0];
    if (head && head.channel.toLowerCase() === msg.channel.toLowerCase() && (head.read || state.isMe(msg.setter ?? ''))) {
      this.take('TOPIC');
      if (head.read) {
        const by = msg.setter ? ` (set by ${msg.setter})` : '';
        this.ui.notice(msg.text ? `Topic of ${msg.channel}: ${msg.text}${by}` : `${msg.channel} has no topic.`);
      }
    }
    if (!conv?.joined) return;
    const changed = conv.topic.text !== msg.text;
    state.setTopic(conv, topic);
    if (changed && msg.setter) {
      state.addLine(conv, 'event', msg.text ? `${msg.setter} set the topic: ${msg.text}` : `${msg.setter} cleared the topic`);
    }
  }
}

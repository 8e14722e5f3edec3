// What the page knows: conversations (channels you are in and direct conversations), their
// messages in server order (deduplicated by id), members, topics and unread counts, plus the
// three things kept in localStorage. No DOM here: the view listens to `change` events.

import { fold, isChannel } from './protocol.js';

const STORAGE_KEY = 'flack';

/** localStorage holds {nick, token, lastChannel} and nothing else (the token is a bearer
 * secret: whoever has it can be you until it is used once). */
export const storage = {
  load() {
    try {
      const raw = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? '{}');
      const str = (v) => (typeof v === 'string' && v.length <= 64 ? v : null);
      return { nick: str(raw.nick), token: str(raw.token), lastChannel: str(raw.lastChannel) };
    } catch {
      return { nick: null, token: null, lastChannel: null };
    }
  },
  save(changes) {
    const { nick, token, lastChannel } = { ...this.load(), ...changes };
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify({ nick, token, lastChannel }));
    } catch {
      // storage full or disabled: the page still works, only coming back does not
    }
  },
};

let localIds = 0;

export class Conversation {
  constructor(name) {
    this.name = name; // as shown (a channel, or the other person's nick)
    this.key = fold(name);
    this.kind = isChannel(name) ? 'channel' : 'dm';
    this.joined = false; // channels: whether you are a member
    this.joinKey = null; // channels: the key (+k) it was joined with, for re-joining it
    this.topic = { text: '', setter: null, time: null };
    this.members = new Map(); // fold(nick) -> nick
    this.roles = new Map(); // fold(nick) -> mode letters: 'o' operator, 'v' voiced, 'ov'
    this.items = []; // {type: 'msg'|'event'|'gap'|'notice', ...}, in server order
    this.ids = new Set();
    this.more = false; // older messages exist on the server
    this.loaded = false; // the newest messages have been fetched once
    this.filled = false; // the first open filled up to a full screen of history
    this.loadingOlder = false;
    this.unread = 0;
    this.mentions = 0;
    this.lastId = null; // newest server message held: the AFTER cursor for catching up
    this.markedId = null; // newest id sent with MARK
    this.readId = null; // the read marker the server confirmed (OK MARK)
    this.syncing = false; // a catch-up is under way: live messages wait in `held`
    this.held = [];
  }

  get oldestId() {
    const first = this.items.find((item) => item.type === 'msg' && item.id);
    return first ? first.id : null;
  }

  message(id) {
    return this.items.find((item) => item.type === 'msg' && item.id === id) ?? null;
  }

  /** The newest message of yours still shown (for /edit, /delete and the Up key). */
  lastOwn(me) {
    for (let i = this.items.length - 1; i >= 0; i -= 1) {
      const item = this.items[i];
      if (item.type === 'msg' && item.id && !item.deleted && fold(item.author) === fold(me)) return item;
    }
    return null;
  }
}

export class State extends EventTarget {
  constructor() {
    super();
    this.me = null;
    this.convs = new Map(); // key -> Conversation
    this.activeKey = null;
    this.channelList = new Map(); // from LIST: key -> {name, members, topic}
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent('change', { detail: { type, ...detail } }));
  }

  get(name) {
    return name ? this.convs.get(fold(name)) ?? null : null;
  }

  get active() {
    return this.activeKey ? this.convs.get(this.activeKey) ?? null : null;
  }

  ensure(name) {
    let conv = this.get(name);
    if (!conv) {
      conv = new Conversation(name);
      this.convs.set(conv.key, conv);
      this.emit('convs');
    }
    return conv;
  }

  remove(name) {
    const conv = this.get(name);
    if (!conv) return;
    this.convs.delete(conv.key);
    if (this.activeKey === conv.key) this.activeKey = null;
    this.emit('convs');
  }

  /** Channels then direct conversations, each by name: the sidebar's order. */
  ordered() {
    const all = [...this.convs.values()].filter((c) => c.kind === 'dm' || c.joined);
    const byName = (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    return [...all.filter((c) => c.kind === 'channel').sort(byName), ...all.filter((c) => c.kind === 'dm').sort(byName)];
  }

  setActive(name) {
    const conv = this.get(name);
    this.activeKey = conv ? conv.key : null;
    if (conv) storage.save({ lastChannel: conv.name });
    this.emit('active');
  }

  setMe(nick) {
    this.me = nick;
    this.emit('me');
  }

  isMe(nick) {
    return !!this.me && fold(nick) === fold(this.me);
  }

  totalUnread() {
    let n = 0;
    for (const conv of this.ordered()) n += conv.unread;
    return n;
  }

  // --- messages ----------------------------------------------------------------------

  /** A message line into its conversation, appended in server order; false for an id the
   * conversation already has (a catch-up overlapping what arrived live). */
  append(conv, msg) {
    if (msg.id && conv.ids.has(msg.id)) return false;
    const item = { type: 'msg', ...msg };
    if (msg.id) {
      conv.ids.add(msg.id);
      conv.lastId = msg.id;
    }
    // Yours not yet confirmed stay last, after everything the server has ordered.
    const firstPending = conv.items.findIndex((i) => i.pending);
    if (firstPending >= 0) {
      conv.items.splice(firstPending, 0, item);
      this.emit('items', { conv, op: 'reset', kept: 'bottom' });
    } else {
      conv.items.push(item);
      this.emit('items', { conv, op: 'append', item });
    }
    return true;
  }

  /** Older messages (oldest first) before everything the conversation shows. */
  prepend(conv, msgs) {
    const fresh = msgs.filter((m) => !conv.ids.has(m.id));
    for (const m of fresh) conv.ids.add(m.id);
    conv.items.unshift(...fresh.map((m) => ({ type: 'msg', ...m })));
    if (!conv.lastId && fresh.length) conv.lastId = fresh[fresh.length - 1].id;
    this.emit('items', { conv, op: 'reset', kept: 'bottom' });
    return fresh.length;
  }

  addLine(conv, type, text, extra = {}) {
    const item = { type, text, time: new Date(), ...extra };
    conv.items.push(item);
    this.emit('items', { conv, op: 'append', item });
    return item;
  }

  clear(conv) {
    conv.items = conv.items.filter((item) => item.type === 'msg' && item.pending);
    this.emit('items', { conv, op: 'reset' });
  }

  /** A message was deleted, by `by` (its author, or an operator of its channel), saying
   * why when they did. */
  deleted(conv, id, by = null, reason = '') {
    const item = conv.message(id);
    if (!item) return;
    item.deleted = true;
    item.deletedBy = by && fold(by) !== fold(item.author ?? '') ? by : null;
    item.deleteReason = reason;
    item.text = '';
    item.editing = false;
    this.emit('items', { conv, op: 'update', item });
  }

  edited(conv, id, text, time) {
    const item = conv.message(id);
    if (!item || item.deleted) return;
    item.text = text;
    item.edited = time || item.edited;
    this.emit('items', { conv, op: 'update', item });
  }

  // --- messages of yours not yet confirmed by the server --------------------------------

  addPending(conv, text, action) {
    localIds += 1;
    const item = {
      type: 'msg', id: null, localId: `local-${localIds}`, time: new Date().toISOString(),
      author: this.me ?? '', text, action, edited: null, pending: 'queued', target: conv.name,
    };
    conv.items.push(item);
    this.emit('items', { conv, op: 'append', item });
    return item;
  }

  updatePending(item, pending, error = null) {
    item.pending = pending;
    item.error = error;
    const conv = this.get(item.target);
    if (conv) this.emit('items', { conv, op: 'update', item });
  }

  dropPending(item) {
    const conv = this.get(item.target);
    if (!conv) return;
    conv.items = conv.items.filter((i) => i !== item);
    this.emit('items', { conv, op: 'remove', item });
  }

  pendingItems() {
    const out = [];
    for (const conv of this.convs.values()) for (const item of conv.items) if (item.pending) out.push(item);
    return out;
  }

  // --- members, topics, counts -----------------------------------------------------------

  /** The whole member list: `members` are NAMES lines, `{nick, role}` (role `op`,
   * `voice` or ''). */
  setMembers(conv, members) {
    const letter = { op: 'o', voice: 'v' };
    conv.members = new Map(members.map((m) => [fold(m.nick), m.nick]));
    conv.roles = new Map(members.filter((m) => letter[m.role]).map((m) => [fold(m.nick), letter[m.role]]));
    this.emit('members', { conv });
  }

  /** A member got (`on`) or lost mode `letter` (`o` or `v`): MODE +o/-o/+v/-v. */
  setRole(conv, nick, letter, on) {
    const key = fold(nick);
    if (!conv.members.has(key) || !'ov'.includes(letter)) return;
    const had = (conv.roles.get(key) ?? '').replace(letter, '');
    const now = on ? [...had + letter].sort().join('') : had;
    if (now) conv.roles.set(key, now);
    else conv.roles.delete(key);
    this.emit('members', { conv });
  }

  addMember(conv, nick) {
    conv.members.set(fold(nick), nick);
    this.emit('members', { conv });
  }

  /** A member's nick changed: the role goes with it. False if `old` was not a member. */
  renameMember(conv, old, nick) {
    const role = conv.roles.get(fold(old));
    if (!this.removeMember(conv, old)) return false;
    if (role) conv.roles.set(fold(nick), role);
    this.addMember(conv, nick);
    return true;
  }

  removeMember(conv, nick) {
    conv.roles.delete(fold(nick));
    const had = conv.members.delete(fold(nick));
    if (had) this.emit('members', { conv });
    return had;
  }

  setTopic(conv, topic) {
    conv.topic = topic;
    this.emit('topic', { conv });
  }

  setCounts(conv, unread, mentions) {
    if (conv.unread === unread && conv.mentions === mentions) return;
    conv.unread = unread;
    conv.mentions = mentions;
    this.emit('convs');
  }

  /** A direct conversation follows its person's nick change. */
  renameDm(oldNick, newNick) {
    const conv = this.get(oldNick);
    if (!conv || conv.kind !== 'dm') return null;
    const other = this.get(newNick);
    if (other && other !== conv) return conv; // both exist: leave them apart
    this.convs.delete(conv.key);
    const wasActive = this.activeKey === conv.key;
    conv.name = newNick;
    conv.key = fold(newNick);
    this.convs.set(conv.key, conv);
    if (wasActive) {
      this.activeKey = conv.key;
      storage.save({ lastChannel: conv.name });
    }
    this.emit('convs');
    this.emit('active');
    return conv;
  }
}

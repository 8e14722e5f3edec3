// The Flack line protocol, pure: reading server lines, writing client lines, names and text.
// No DOM, no WebSocket: node --test can import this module as it is (protocol.md is the
// contract; "Line shapes", "Names" and "Message lines" are the sections used here).

export const DEFAULT_MAX_LINE = 512;

const NICK_RE = /^[A-Za-z][A-Za-z0-9_-]{0,15}$/;
const CHANNEL_RE = /^#[A-Za-z0-9_-]{1,32}$/;
const RESERVED = new Set(['server', 'system', 'flack', 'flackd']);
const ID_RE = /^[0-9]{1,20}-[0-9]{1,20}$/;

/** ASCII lower case: how flackd compares nicks and channel names. */
export function fold(name) {
  return name.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

export const isChannel = (target) => target.startsWith('#');
export const isValidChannel = (name) => CHANNEL_RE.test(name);
export const isValidNick = (nick) => NICK_RE.test(nick) && !RESERVED.has(fold(nick));
export const isMessageId = (word) => ID_RE.test(word);

/** Split a server line on spaces up to the first " :"; what follows is the free text
 * (null when the line has none). A line starting with ":" is all text. */
export function tokenize(line) {
  let head = line;
  let text = null;
  if (line.startsWith(':')) {
    return { words: [], text: line.slice(1) };
  }
  const at = line.indexOf(' :');
  if (at >= 0) {
    head = line.slice(0, at);
    text = line.slice(at + 2);
  }
  return { words: head.split(' ').filter((w) => w !== ''), text };
}

/** key=value words (flags, token=, more=, ...) into an object; other words are skipped. */
export function keyValues(words) {
  const out = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq > 0) out[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return out;
}

const toInt = (word) => {
  const n = Number.parseInt(word ?? '', 10);
  return Number.isFinite(n) ? n : 0;
};

/** A message line's parameters after the verb: target id time author [flag...]. */
function parseMsg(words, text) {
  const [target = '', id = '', time = '', author = '', ...flags] = words;
  const kv = keyValues(flags);
  return {
    kind: 'msg', target, id, time, author, text: text ?? '',
    action: kv.kind === 'action', notice: kv.kind === 'notice', edited: kv.edited ?? null,
  };
}

/** One server line (without CR/LF) as a plain object with a `kind`. Unknown lines give
 * kind 'unknown' (a client skips what it does not know). */
export function parseLine(line) {
  const { words, text } = tokenize(line);
  const verb = (words[0] ?? '').toUpperCase();
  const p = words.slice(1);
  switch (verb) {
    case 'HELLO': {
      const kv = keyValues(p);
      return {
        kind: 'hello', server: p[0] ?? '', version: p[1] ?? '',
        maxLine: toInt(kv.maxline) || DEFAULT_MAX_LINE, history: toInt(kv.history),
        protocol: kv.protocol ?? '1', password: kv.password === 'required', text: text ?? '',
      };
    }
    case 'OK':
      return { kind: 'ok', command: (p[0] ?? '').toUpperCase(), params: p.slice(1), kv: keyValues(p.slice(1)), text: text ?? '' };
    case 'ERR':
      return { kind: 'err', code: p[0] ?? '', command: (p[1] ?? '').toUpperCase(), params: p.slice(2), kv: keyValues(p.slice(2)), text: text ?? '' };
    case 'NOTE':
      return { kind: 'note', code: p[0] ?? '', params: p.slice(1), kv: keyValues(p.slice(1)), text: text ?? '' };
    case 'BYE':
      return { kind: 'bye', code: p[0] ?? '', params: p.slice(1), kv: keyValues(p.slice(1)), text: text ?? '' };
    case 'MSG':
      return parseMsg(p, text);
    case 'JOIN':
      return { kind: 'join', channel: p[0] ?? '', nick: p[1] ?? '' };
    case 'PART':
      return { kind: 'part', channel: p[0] ?? '', nick: p[1] ?? '', text: text ?? '' };
    case 'QUIT':
      return { kind: 'quit', nick: p[0] ?? '', text: text ?? '' };
    case 'NICK':
      return { kind: 'nick', old: p[0] ?? '', nick: p[1] ?? '' };
    case 'TOPIC':
      return {
        kind: 'topic', channel: p[0] ?? '',
        setter: p[1] && p[1] !== '*' ? p[1] : null, time: p[2] && p[2] !== '*' ? p[2] : null,
        text: text ?? '',
      };
    case 'DELETED':
      return { kind: 'deleted', target: p[0] ?? '', id: p[1] ?? '', nick: p[2] ?? '', reason: text ?? '' };
    case 'MODE':
      return { kind: 'mode', channel: p[0] ?? '', nick: p[1] ?? '', changes: p.slice(2) };
    case 'KICK':
      return { kind: 'kick', channel: p[0] ?? '', nick: p[1] ?? '', by: p[2] ?? '', text: text ?? '' };
    case 'EDITED':
      return { kind: 'edited', target: p[0] ?? '', id: p[1] ?? '', time: p[2] ?? '', editor: p[3] ?? '', text: text ?? '' };
    case 'LIST':
      return { kind: 'block', block: 'LIST', target: null, count: toInt(p[0]) };
    case 'NAMES':
    case 'HISTORY':
    case 'HELP':
    case 'BANS':
    case 'EXCEPTS':
    case 'INVEXES':
      return { kind: 'block', block: verb, target: p[0] ?? '', count: toInt(p[1]) };
    case 'INVITES':
      return { kind: 'block', block: 'INVITES', target: null, count: toInt(p[0]) };
    case 'UNREAD':
      return { kind: 'block', block: 'UNREAD', target: null, count: toInt(p[0]) };
    case 'CHANNEL':
      return { kind: 'channel', channel: p[0] ?? '', members: toInt(p[1]), topic: text ?? '' };
    case 'MEMBER': {
      const kv = keyValues(p.slice(1));
      return { kind: 'member', nick: p[0] ?? '', role: kv.role ?? '', bot: kv.bot === 'yes', oper: kv.oper === 'yes' };
    }
    case 'WALLOPS':
      return { kind: 'wallops', nick: p[0] ?? '', text: text ?? '' };
    case 'BAN':
    case 'EXCEPT':
    case 'INVEX':
      return { kind: 'ban', mask: p[0] ?? '', setter: p[1] ?? '', time: p[2] ?? '' };
    case 'CTCP':
      return { kind: 'ctcp', target: p[0] ?? '', nick: p[1] ?? '', verb: p[2] ?? '', text: text ?? '' };
    case 'INFO':
      return { kind: 'info', text: text ?? '' };
    case 'COUNT': {
      const kv = keyValues(p.slice(1));
      return { kind: 'count', target: p[0] ?? '', unread: toInt(kv.unread), mentions: toInt(kv.mentions), newest: kv.newest ?? null };
    }
    case 'END': {
      const rest = p.slice(1);
      const kv = keyValues(rest);
      const target = rest.length && !rest[0].includes('=') ? rest[0] : null;
      return { kind: 'end', block: (p[0] ?? '').toUpperCase(), target, more: kv.more === 'yes', gap: kv.gap === 'yes' };
    }
    case 'PING':
      return { kind: 'ping', token: p[0] ?? null };
    case 'PONG':
      return { kind: 'pong', token: p[0] ?? null };
    default:
      return { kind: 'unknown', verb, line };
  }
}

/** The changes of a MODE line's words (`+o-v bob carol`, `+kl key 20`) as
 * `{on, letter, param}`, parameters taken in order as flackd does (flackd/codec/modes.py):
 * b, k, o and v take one (a `-k` or a `b` may go without), l only when set. */
export function modeChanges(words) {
  const [spec = '', ...params] = words;
  const out = [];
  let on = true;
  for (const letter of spec) {
    if (letter === '+' || letter === '-') {
      on = letter === '+';
      continue;
    }
    const takes = 'beIkov'.includes(letter) || (letter === 'l' && on);
    out.push({ on, letter, param: takes && params.length ? params.shift() : null });
  }
  return out;
}

/** How a member's role (mode letters: `o` operator, `v` voiced) is shown before the nick. */
export const rolePrefix = (role) => (role.includes('o') ? '@' : role.includes('v') ? '+' : '');

/** A client line: the verb, its parameters (no spaces) and, last, an optional free text that
 * takes the rest of the line (protocol.md: no ':' needed, and one would be part of it). */
export function formatCommand(verb, params = [], text = null) {
  for (const param of params) {
    if (param === '' || /\s/.test(param)) throw new Error(`bad parameter ${JSON.stringify(param)}`);
  }
  const parts = [verb, ...params];
  if (text !== null && text !== undefined) parts.push(text);
  const line = parts.join(' ');
  if (/[\r\n]/.test(line)) throw new Error('a line cannot hold CR or LF');
  return line;
}

/** The conversation a message line belongs to: its channel, or for a direct message the
 * other person (the author when the target is you, otherwise the target). */
export function conversationOf(target, author, me) {
  if (isChannel(target)) return target;
  return fold(target) === fold(me) ? author : target;
}

/** Characters the server refuses on input (C0 but TAB, DEL) or replaces on output (C1,
 * bidi controls, line separators): replaced by U+FFFD before sending, so the echo has the
 * same text as what was typed. */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
export function cleanText(text) {
  return text.replace(UNSAFE, '\ufffd');
}

const encoder = new TextEncoder();
export const byteLength = (text) => encoder.encode(text).length;

/** Bytes of text that fit one line `VERB <target> <text>` within `maxLine` (which counts the
 * line ending, CR LF: two bytes kept free although a WebSocket message carries none). */
export function maxTextBytes(verb, target, maxLine = DEFAULT_MAX_LINE) {
  return maxLine - byteLength(`${verb} ${target} `) - 2;
}

/** The longest prefix (in UTF-16 units, never splitting a surrogate pair) of `text` whose
 * UTF-8 fits `maxBytes`. */
function fit(text, maxBytes) {
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    const n = byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    i += ch.length;
  }
  return i;
}

/** Messages for `text`: one per line, blank ones dropped, each at most `maxBytes` of UTF-8,
 * split at a space when possible (inside a word only when the word alone is too long). */
export function splitText(text, maxBytes) {
  if (maxBytes < 4) throw new Error('maxBytes must hold one character');
  const out = [];
  for (const raw of text.replace(/\r\n?/g, '\n').split('\n')) {
    let rest = cleanText(raw).replace(/^ +| +$/g, '');
    while (byteLength(rest) > maxBytes) {
      const cut = fit(rest, maxBytes);
      const space = rest.lastIndexOf(' ', cut);
      const at = space > 0 ? space : cut;
      const head = rest.slice(0, at).replace(/ +$/, '');
      if (head.trim()) out.push(head);
      rest = rest.slice(space > 0 ? at + 1 : at).replace(/^ +/, '');
    }
    if (rest.trim()) out.push(rest);
  }
  return out;
}

/** Whether `text` mentions `nick` as a word (letters, digits, _ or - around it make it
 * another word), ignoring letter case: the server's rule for mention counts. */
export function mentions(text, nick) {
  if (!nick) return false;
  const hay = fold(text);
  const needle = fold(nick);
  const word = /[A-Za-z0-9_-]/;
  let at = hay.indexOf(needle);
  while (at >= 0) {
    const before = at > 0 ? hay[at - 1] : '';
    const after = hay[at + needle.length] ?? '';
    if (!word.test(before) && !word.test(after)) return true;
    at = hay.indexOf(needle, at + 1);
  }
  return false;
}

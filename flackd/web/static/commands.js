// The composer's slash commands, pure: what one submitted input asks for. The same
// commands as flackcli (flackcli/ui/input.py), minus those a web page cannot do (/connect,
// /log), plus /create. The app carries out the returned action.

import { cleanText, isChannel, isMessageId, isValidChannel, isValidNick } from './protocol.js';

export const COMMANDS = [
  ['join', ['j'], '/join <#channel> [key]', 'join a channel (creating it if nobody has; with its key if it has one) and open it'],
  ['create', [], '/create <#channel>', 'create a new channel; refused if the name is taken'],
  ['part', ['leave', 'close'], '/part [#channel] [reason]', 'leave a channel; in a direct conversation, close it'],
  ['msg', [], '/msg <nick|#channel> <text>', 'send a direct message and open the conversation'],
  ['query', ['q', 'dm'], '/query <nick> [text]', 'open a direct conversation with nick'],
  ['reply', [], '/reply <text>', 'answer whoever sent you the last direct message'],
  ['me', [], '/me <text>', "an action: '/me waves' shows as '* alice waves'"],
  ['nick', [], '/nick <new-nick>', 'change your name'],
  ['list', [], '/list', 'browse the server\'s channels'],
  ['names', ['who'], '/names [#channel]', 'show who is in a channel'],
  ['topic', [], '/topic [#channel] [text]', 'show the topic, or set it'],
  ['invite', [], '/invite [<nick> [#channel]]', 'ask someone to join this channel (or #channel); alone: the channels you are invited to'],
  ['mode', [], '/mode [#channel] [+|-modes [params]]', "show the channel's modes, or change them (operators): /mode +m, /mode +o bob, /mode +b lists bans (+e ban exceptions, +I invite exceptions), /mode +C refuses CTCP"],
  ['kick', [], '/kick [#channel] <nick> [reason]', 'put someone out of this channel (operators)'],
  ['oper', [], '/oper <name> <password>', "become a server operator with the credentials the server's administrator gave you"],
  ['kill', [], '/kill <nick> [reason]', "end someone's session (server operators)"],
  ['wallops', [], '/wallops <text>', 'a message to everyone with user mode +w (server operators)'],
  ['umode', [], '/umode [+|-Bw]', 'show or change your user modes: B you are a bot, w get WALLOPS, -o stop being a server operator'],
  ['op', [], '/op <nick>...', 'make members channel operators (@)'],
  ['deop', [], '/deop <nick>...', 'take channel operator away'],
  ['voice', [], '/voice <nick>...', 'let members write in a moderated (+m) channel (+)'],
  ['devoice', [], '/devoice <nick>...', 'take voice away'],
  ['ban', [], '/ban [mask]', 'ban nick or nick!user@host (* and ? match) from this channel; no mask: list the bans'],
  ['unban', [], '/unban <mask>', 'lift a ban of this channel'],
  ['history', [], '/history [n]', 'load n older messages (default: one page)'],
  ['delete', [], '/delete [id] [reason]', "delete your last message here (or message id: an operator may delete anyone's), saying why if you like"],
  ['edit', [], '/edit [id]', 'edit your last message here (or message id): Enter saves, Esc cancels'],
  ['read', [], '/read [-all]', 'mark this conversation read (-all: every one)'],
  ['clear', [], '/clear', 'clear this conversation on screen (local only)'],
  ['reconnect', [], '/reconnect', 'reconnect now'],
  ['raw', [], '/raw <line>', 'send one protocol line as typed (debugging)'],
  ['help', [], '/help [command]', 'list the commands, or explain one'],
  ['quit', ['exit'], '/quit [message]', 'say goodbye: your session ends and your name is free'],
].map(([name, aliases, syntax, summary]) => ({ name, aliases, syntax, summary }));

const BY_NAME = new Map();
for (const cmd of COMMANDS) for (const n of [cmd.name, ...cmd.aliases]) BY_NAME.set(n, cmd);

export function lookup(name) {
  return BY_NAME.get(name.replace(/^\//, '').toLowerCase()) ?? null;
}

export function helpLines(topic = null) {
  if (!topic) {
    return ['Commands (// at the start sends a literal /):',
      ...COMMANDS.map((c) => `${c.syntax}${c.aliases.map((a) => `, /${a}`).join('')}: ${c.summary}`)];
  }
  const cmd = lookup(topic);
  if (!cmd) return [`no command /${topic.replace(/^\//, '')}; /help lists them`];
  const out = [`usage: ${cmd.syntax}`, cmd.summary];
  if (cmd.aliases.length) out.push(`aliases: ${cmd.aliases.map((a) => `/${a}`).join(', ')}`);
  return out;
}

const error = (text) => ({ type: 'error', text });
const usage = (name, why = '') => {
  const cmd = BY_NAME.get(name);
  return error(`${why ? `${why}; ` : ''}usage: ${cmd.syntax} (${cmd.summary})`);
};
const badChannel = (name) => error(`${name} is not a channel name: # and then 1-32 ASCII letters, digits, _ or -`);
const badNick = (name) => error(`${name} is not a name: 1-16 ASCII letters, digits, _ or -, starting with a letter`);
const words = (args) => args.split(' ').filter((w) => w);
const NOWHERE = 'this conversation has no one to talk to: /join #channel, or /msg nick text';
const MAX_CHANGES = 6; // the most mode changes one MODE carries (protocol.md, MODE)
const KEY_RE = /^[!-+\--~]{1,32}$/; // a channel key: printable ASCII, no space, no comma
const MASK_RE = /^[!-~]{1,100}$/;

/** `#channel rest`, or in a channel, `rest` for it: [channel, rest], or an error action. */
function channelAndRest(args, conv, name) {
  const sp = args.indexOf(' ');
  const first = sp < 0 ? args : args.slice(0, sp);
  if (first.startsWith('#')) {
    if (!isValidChannel(first)) return badChannel(first);
    return [first, sp < 0 ? '' : args.slice(sp + 1).trim()];
  }
  if (!conv || !isChannel(conv)) return usage(name, 'this is not a channel');
  return [conv, args];
}

/** /op, /deop, /voice, /devoice: MODE <this channel> +oo bob carol. */
const memberMode = (sign, letter, name) => (args, conv) => {
  const nicks = words(args);
  if (!conv || !isChannel(conv)) return usage(name, 'this is not a channel');
  if (!nicks.length || nicks.length > MAX_CHANGES) return usage(name, nicks.length ? `give 1 to ${MAX_CHANGES} names` : '');
  const bad = nicks.find((n) => !isValidNick(n));
  if (bad) return badNick(bad);
  return { type: 'mode', channel: conv, words: [sign + letter.repeat(nicks.length), ...nicks] };
};

/** /ban mask (alone: list the bans), /unban mask. */
const banMode = (sign, name) => (args, conv) => {
  const masks = words(args);
  if (!conv || !isChannel(conv)) return usage(name, 'this is not a channel');
  if (!masks.length && sign === '+') return { type: 'mode', channel: conv, words: ['+b'] };
  if (masks.length !== 1) return usage(name, masks.length ? 'one mask at a time' : '');
  if (!MASK_RE.test(masks[0])) return usage(name, `${masks[0]} is not a mask: nick, or nick!user@host`);
  return { type: 'mode', channel: conv, words: [`${sign}b`, masks[0]] };
};

function channelArg(word) {
  const name = word.startsWith('#') ? word : `#${word}`;
  return isValidChannel(name) ? name : null;
}

const HANDLERS = {
  join(args) {
    const w = words(args);
    if (!w.length || w.length > 2) return usage('join', w.length ? 'too many parameters' : '');
    const name = channelArg(w[0]);
    if (!name) return badChannel(w[0]);
    if (w[1] !== undefined && !KEY_RE.test(w[1])) return usage('join', 'a key is 1-32 printable ASCII characters, no spaces or commas');
    return { type: 'join', channel: name, key: w[1] ?? null };
  },
  create(args) {
    const w = words(args);
    if (w.length !== 1) return usage('create', w.length ? 'too many parameters' : '');
    const name = channelArg(w[0]);
    return name ? { type: 'create', channel: name } : badChannel(w[0]);
  },
  part(args, conv) {
    const [first, ...rest] = args.split(' ');
    if (first.startsWith('#')) {
      if (!isValidChannel(first)) return badChannel(first);
      return { type: 'part', channel: first, reason: rest.join(' ').trim() };
    }
    if (!conv) return usage('part', 'this is not a channel');
    if (!isChannel(conv)) return { type: 'close', conv };
    return { type: 'part', channel: conv, reason: args };
  },
  msg(args) {
    const sp = args.indexOf(' ');
    const target = sp < 0 ? args : args.slice(0, sp);
    const text = sp < 0 ? '' : args.slice(sp + 1);
    if (!target || !text.trim()) return usage('msg');
    if (isChannel(target)) return isValidChannel(target) ? { type: 'say', target, text, action: false } : badChannel(target);
    if (!isValidNick(target)) return badNick(target);
    return { type: 'say', target, text, action: false, open: true };
  },
  query(args) {
    const sp = args.indexOf(' ');
    const nick = sp < 0 ? args : args.slice(0, sp);
    const text = sp < 0 ? '' : args.slice(sp + 1);
    if (!nick) return usage('query');
    if (!isValidNick(nick)) return badNick(nick);
    return text.trim() ? { type: 'say', target: nick, text, action: false, open: true } : { type: 'open', conv: nick };
  },
  reply: (args) => (args.trim() ? { type: 'reply', text: args } : usage('reply')),
  me(args, conv) {
    if (!args.trim()) return usage('me');
    return conv ? { type: 'say', target: conv, text: args, action: true } : error(NOWHERE);
  },
  nick(args) {
    const w = words(args);
    if (w.length !== 1) return usage('nick', w.length ? 'too many parameters' : '');
    return isValidNick(w[0]) ? { type: 'nick', nick: w[0] } : badNick(w[0]);
  },
  list: (args) => (args ? usage('list', '/list takes no parameters') : { type: 'list' }),
  names(args, conv) {
    const w = words(args);
    if (w.length > 1) return usage('names', 'too many parameters');
    const channel = w[0] ?? (conv && isChannel(conv) ? conv : null);
    if (!channel) return usage('names', 'this is not a channel');
    return isValidChannel(channel) ? { type: 'names', channel } : badChannel(channel);
  },
  topic(args, conv) {
    const sp = args.indexOf(' ');
    const first = sp < 0 ? args : args.slice(0, sp);
    if (first && isValidChannel(first)) {
      const text = sp < 0 ? '' : args.slice(sp + 1).trim();
      return { type: 'topic', channel: first, text: text || null };
    }
    if (!conv || !isChannel(conv)) return usage('topic', 'this is not a channel');
    return { type: 'topic', channel: conv, text: args.trim() || null };
  },
  invite(args, conv) {
    const w = words(args);
    if (!w.length) return { type: 'invites' };
    if (w.length > 2) return usage('invite', 'give a nick, and a channel if this is not one');
    const channel = w[1] ?? (conv && isChannel(conv) ? conv : null);
    if (!channel) return usage('invite', 'this is not a channel');
    if (!isValidChannel(channel)) return badChannel(channel);
    return { type: 'invite', nick: w[0], channel };
  },
  history(args, conv) {
    if (!conv) return usage('history', 'only channels and direct conversations keep history');
    const w = words(args);
    if (!w.length) return { type: 'history', count: null };
    if (w.length > 1) return usage('history', 'too many parameters');
    const n = /^[0-9]{1,4}$/.test(w[0]) ? Number(w[0]) : 0;
    return n >= 1 && n <= 1000 ? { type: 'history', count: n } : usage('history', 'n must be a number from 1 to 1000');
  },
  delete: (args, conv) => {
    const sp = args.indexOf(' ');
    const first = sp < 0 ? args : args.slice(0, sp);
    if (first && isMessageId(first)) return { type: 'delete', id: first, reason: sp < 0 ? '' : args.slice(sp + 1).trim() };
    return conv ? { type: 'delete', id: null, reason: args } : usage('delete', 'this conversation has no messages of yours');
  },
  mode(args, conv) {
    const found = channelAndRest(args, conv, 'mode');
    if (!Array.isArray(found)) return found;
    const [channel, rest] = found;
    const w = words(rest);
    const letters = (w[0] ?? '').replace(/[+-]/g, '');
    const unknown = [...letters].find((l) => !'CIbeiklmnostv'.includes(l));
    if (unknown) return usage('mode', `${unknown} is not a channel mode`);
    if (letters.length > MAX_CHANGES) return usage('mode', `at most ${MAX_CHANGES} changes at once`);
    return { type: 'mode', channel, words: w };
  },
  kick(args, conv) {
    const found = channelAndRest(args, conv, 'kick');
    if (!Array.isArray(found)) return found;
    const [channel, rest] = found;
    const sp = rest.indexOf(' ');
    const nick = sp < 0 ? rest : rest.slice(0, sp);
    if (!nick) return usage('kick');
    if (!isValidNick(nick)) return badNick(nick);
    return { type: 'kick', channel, nick, reason: sp < 0 ? '' : rest.slice(sp + 1).trim() };
  },
  oper(args) {
    const w = words(args);
    return w.length === 2 ? { type: 'oper', name: w[0], password: w[1] } : usage('oper', 'the password is one word');
  },
  kill(args) {
    const sp = args.indexOf(' ');
    const nick = sp < 0 ? args : args.slice(0, sp);
    if (!nick) return usage('kill');
    if (!isValidNick(nick)) return badNick(nick);
    return { type: 'kill', nick, reason: sp < 0 ? '' : args.slice(sp + 1).trim() };
  },
  wallops: (args) => (args.trim() ? { type: 'wallops', text: args.trim() } : usage('wallops')),
  umode(args) {
    const w = words(args);
    const bad = w.find((x) => !/^[+-][+\-Bow]*$/.test(x));
    if (bad) return usage('umode', `${bad} is not a change of user modes (B, w, -o)`);
    return { type: 'umode', words: w };
  },
  op: memberMode('+', 'o', 'op'),
  deop: memberMode('-', 'o', 'deop'),
  voice: memberMode('+', 'v', 'voice'),
  devoice: memberMode('-', 'v', 'devoice'),
  ban: banMode('+', 'ban'),
  unban: banMode('-', 'unban'),
  edit(args, conv) {
    const w = words(args);
    if (w.length > 1) return usage('edit', 'too many parameters');
    if (w.length && !isMessageId(w[0])) return usage('edit', `${w[0]} is not a message id (like 1795507200000-42)`);
    if (!conv && !w.length) return usage('edit', 'this conversation has no messages of yours');
    return { type: 'edit', id: w[0] ?? null };
  },
  read(args) {
    if (!args) return { type: 'read', all: false };
    return args.toLowerCase() === '-all' ? { type: 'read', all: true } : usage('read');
  },
  clear: (args) => (args ? usage('clear', '/clear takes no parameters') : { type: 'clear' }),
  reconnect: (args) => (args ? usage('reconnect', '/reconnect takes no parameters') : { type: 'reconnect' }),
  raw: (args) => (args.trim() ? { type: 'raw', line: args } : usage('raw')),
  help: (args) => ({ type: 'help', topic: words(args)[0] ?? null }),
  quit: (args) => ({ type: 'quit', text: args.trim() }),
};

/** What to do with one submitted input while `conv` (a channel, a nick, or null) is open.
 * Plain text is a message to `conv`; `//text` sends `/text`; `/command ...` is a command in
 * any letter case, aliases included. */
export function parseInput(input, conv) {
  const text = input.replace(/\r\n?/g, '\n').replace(/^\n+|\n+$/g, '');
  if (!text.trim()) return { type: 'nothing' };
  const say = (body) => (conv ? { type: 'say', target: conv, text: body, action: false } : error(NOWHERE));
  if (text.includes('\n') || !text.startsWith('/')) return say(text);
  if (text.startsWith('//')) return say(text.slice(1));
  const sp = text.indexOf(' ');
  const head = sp < 0 ? text.slice(1) : text.slice(1, sp);
  const args = cleanText(sp < 0 ? '' : text.slice(sp + 1).replace(/^ +| +$/g, ''));
  const cmd = BY_NAME.get(head.toLowerCase());
  if (!cmd) {
    const shown = head.slice(0, 32);
    if (shown.toLowerCase() === 'connect' || shown.toLowerCase() === 'log') {
      return error(`/${shown} is a flackcli command the web page does not have; /help lists the ones it has`);
    }
    return error(`unknown command /${shown}; /help lists them (//${shown} sends it as text)`);
  }
  return HANDLERS[cmd.name](args, conv);
}

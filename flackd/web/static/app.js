// Flack in the browser: wires the state, the session (client.js), the view and the
// dialogs, and owns the composer and the keyboard shortcuts.

import { Client } from './client.js';
import { helpLines, parseInput } from './commands.js';
import { Dialogs } from './dialogs.js';
import { byId } from './dom.js';
import { isValidNick } from './protocol.js';
import { State } from './state.js';
import { View } from './view.js';

const state = new State();
const composer = byId('composer');
let client = null;
let dialogs = null;

const actions = {
  open: (name) => client.open(name),
  openDm: (nick) => client.open(nick),
  join: (name) => client.join(name),
  create: (name) => client.create(name, true),
  list: () => client.command('LIST', [], null, {}),
  loadOlder: () => state.active && client.loadOlder(state.active),
  seen: (conv) => client.markRead(conv),
  edit: (item, text) => client.edit(item.id, text),
  del: (item) => client.command('DELETE', [item.id]),
  retry: (item) => client.retry(item),
  discard: (item) => state.dropPending(item),
  focusComposer: () => { if (!composer.disabled) composer.focus(); },
  notice: (text, error = false) => view.notice(text, { error }),
  submitName(nick, password = null) {
    if (!isValidNick(nick)) {
      view.nameError('A name is 1-16 letters, digits, _ or -, starting with a letter (server, system, flack and flackd are taken).');
      return;
    }
    if (password !== null && !password) {
      view.nameError('This server asks for its password.');
      return;
    }
    client.submitName(nick, password);
  },
};

const view = new View(state, actions);
dialogs = new Dialogs(state, actions);
client = new Client(state, {
  status: (phase, info) => view.status(phase, info),
  askName: (error, nick, password) => view.askName(error, nick, password),
  nameAccepted: () => view.nameAccepted(),
  notice: (text, opts) => view.notice(text, opts),
  seeing: (conv) => view.seeing(conv),
  listed: () => dialogs.listed(),
  created: (name) => dialogs.created(name),
  createError: (msg) => dialogs.showCreateError(msg),
});

/** Carry out one parsed composer input; true when the input box may be emptied. */
function run(action) {
  const conv = state.active;
  switch (action.type) {
    case 'nothing': return true;
    case 'error': view.notice(action.text, { error: true }); return false;
    case 'say':
      if (action.open) client.open(action.target);
      return client.say(action.target, action.text, action.action);
    case 'join': return client.join(action.channel, true, action.key);
    case 'create': return client.create(action.channel);
    case 'part': return client.command('PART', [action.channel], action.reason || null);
    case 'close': {
      state.remove(action.conv);
      const next = state.ordered()[0];
      if (next) client.open(next.name);
      return true;
    }
    case 'open': client.open(action.conv); return true;
    case 'reply': {
      const last = client.lastDmFrom;
      if (!last) {
        view.notice('Nobody has sent you a direct message yet.', { error: true });
        return false;
      }
      client.open(last);
      return client.say(last, action.text);
    }
    case 'nick': return client.command('NICK', [action.nick], null, { nick: action.nick });
    case 'list': dialogs.openBrowse(); return true;
    case 'names': return client.command('NAMES', [action.channel], null, { show: true });
    case 'invite': return client.command('INVITE', [action.nick, action.channel], null, {});
    case 'invites': return client.command('INVITE', [], null, {});
    case 'topic': return client.command('TOPIC', [action.channel], action.text, { channel: action.channel, read: action.text === null });
    case 'history':
      if (!client.loadOlder(conv, action.count ?? 50)) view.notice(conv.more ? 'Older messages are on their way.' : 'There are no older messages.');
      return true;
    case 'delete': {
      const id = action.id ?? conv.lastOwn(state.me)?.id;
      if (!id) view.notice('You have no message here to delete.', { error: true });
      else client.command('DELETE', [id], action.reason || null);
      return true;
    }
    case 'mode': return client.command('MODE', [action.channel, ...action.words], null, {});
    case 'kick': return client.command('KICK', [action.channel, action.nick], action.reason || null, {});
    case 'oper': return client.command('OPER', [action.name, action.password], null, {});
    case 'kill': return client.command('KILL', [action.nick], action.reason || null, {});
    case 'wallops': return client.command('WALLOPS', [], action.text);
    case 'umode': return client.command('MODE', [state.me, ...action.words], null, {});
    case 'edit': {
      const item = action.id ? conv?.message(action.id) : conv.lastOwn(state.me);
      if (!item || item.deleted) {
        view.notice(action.id ? `No message ${action.id} is shown here.` : 'You have no message here to edit.', { error: true });
        return false;
      }
      view.startEdit(item);
      return true;
    }
    case 'read':
      for (const c of action.all ? state.ordered() : [conv]) client.markRead(c, true);
      return true;
    case 'clear': if (conv) state.clear(conv); return true;
    case 'reconnect':
      if (client.phase === 'stopped' || client.phase === 'idle') client.connect();
      else client.conn.reconnectNow();
      return true;
    case 'raw': return client.raw(action.line);
    case 'help': for (const line of helpLines(action.topic)) view.notice(line); return true;
    case 'quit': client.quit(action.text); return true;
    default: return false;
  }
}

byId('composer-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const cleared = run(parseInput(composer.value, state.active?.name ?? null));
  if (cleared) composer.value = '';
  composer.focus();
});

composer.addEventListener('keydown', (event) => {
  // Up in an empty box edits your last message here (as in Slack).
  if (event.key === 'ArrowUp' && !event.altKey && !composer.value && state.active) {
    const item = state.active.lastOwn(state.me);
    if (item) {
      event.preventDefault();
      view.startEdit(item);
    }
  }
});

/** Alt+Up/Down: the previous/next conversation; with Shift, only those with unread ones. */
function step(direction, unreadOnly) {
  const all = state.ordered();
  const list = unreadOnly ? all.filter((c) => c.unread || c === state.active) : all;
  if (!list.length) return;
  const at = list.indexOf(state.active);
  const next = list[(at + direction + list.length) % list.length];
  client.open(next.name);
  actions.focusComposer();
}

document.addEventListener('keydown', (event) => {
  if (!byId('welcome').hidden) return;
  const key = event.key;
  if ((event.ctrlKey || event.metaKey) && !event.altKey && (key === 'k' || key === 'K')) {
    event.preventDefault();
    dialogs.openSwitcher();
    return;
  }
  if (dialogs.anyOpen) return;
  if (event.altKey && (key === 'ArrowUp' || key === 'ArrowDown')) {
    event.preventDefault();
    step(key === 'ArrowUp' ? -1 : 1, event.shiftKey);
    return;
  }
  if (key === 'Escape' && !event.defaultPrevented) {
    if (view.closePanels()) return;
    if (state.active) client.markRead(state.active, true);
    return;
  }
  // Typing anywhere outside a field goes to the message box.
  const target = event.target;
  const inField = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLButtonElement || target?.isContentEditable;
  if (!inField && key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) actions.focusComposer();
});

byId('sidebar').addEventListener('click', (event) => {
  if (event.target.closest('button.conv') && window.matchMedia('(max-width: 600px)').matches) actions.focusComposer();
});
byId('browse-button').addEventListener('click', () => dialogs.openBrowse(false));
byId('create-button').addEventListener('click', () => dialogs.openBrowse(true));
byId('new-dm-button').addEventListener('click', () => dialogs.openDm());
byId('reconnect-button').addEventListener('click', () => {
  if (client.phase === 'offline') client.conn.reconnectNow();
  else client.connect();
});
document.addEventListener('visibilitychange', () => {
  if (state.active && view.seeing(state.active)) client.markRead(state.active);
});
window.addEventListener('pagehide', () => client.flushMark());

client.start();

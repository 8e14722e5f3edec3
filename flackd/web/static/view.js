// The page's DOM: sidebar, conversation header, message log, members, status, name form.
//
// Stable hooks (for tests and for anyone styling the page; keep them):
//   #welcome, #name-form, #name-input, #name-error   first visit: the display name (alone)
//   #status[data-state=idle|connecting|registering|online|offline|stopped] (role=status)
//   #reconnect-button                                 shown when offline or stopped
//   nav#sidebar[aria-label=Channels]; #me-nick
//   #channels > li[data-conv="#general"] > button.conv[aria-current=page when open]
//       .name, .count (members), .badge.unread-badge[data-count], .badge.mention-badge[data-count]
//   #dms > li[data-conv="bob"] (direct conversations, same inside)
//   li[data-conv][data-read="<id>"]: the read marker the server confirmed (OK MARK)
//   #browse-button, #create-button, #new-dm-button    (dialogs: see dialogs.js)
//   #conv-title, #topic, #member-count, #members-button, #menu-button (#menu-badge: unread)
//   #older-button ("Show older messages", hidden when the server has no older ones)
//   ol#log[role=log][data-conv]
//       li.msg[data-id][data-author] (.own .action .mention .edited .deleted .pending .failed)
//           .author, time[datetime][title=UTC], .text[dir=auto], .edited-mark,
//           button.edit, button.delete (own messages), form.edit-form input.edit-input,
//           button.confirm-delete, .send-state, button.retry, button.discard
//       li.msg.pending[data-local-id] (yours, not yet confirmed by the server)
//       li.event (joins, parts, kicks, quits, nick, topic and mode changes), li.gap, li.notice(.error), li.day
//   #composer-form, label[for=composer], #composer
//   #members > li[data-nick][data-role=op|voice] > button.member (span.role: @ or +)

import { byId, dayKey, el, hidden, keepFocus, localDay, parseTime, utcTitle } from './dom.js';
import { itemNode } from './items.js';
import { fold, rolePrefix } from './protocol.js';

const STATUS_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  registering: 'Signing in…',
  online: 'Connected',
};

export class View {
  constructor(state, actions) {
    this.state = state;
    this.actions = actions;
    this.nodes = Object.fromEntries(['app', 'welcome', 'name-form', 'name-input', 'name-error', 'status', 'reconnect-button', 'me-nick', 'channels', 'dms', 'conv-title', 'topic', 'member-count', 'members-button', 'menu-button', 'scroller', 'older-button', 'log', 'composer', 'composer-label', 'members', 'sidebar', 'members-pane', 'menu-badge', 'name-status', 'password-row', 'password-input'].map((id) => [id, byId(id)]));
    this.statusTimer = null;
    this.editing = null;
    state.addEventListener('change', (event) => this.onChange(event.detail));
    this.nodes.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.nodes['older-button'].addEventListener('click', () => this.actions.loadOlder());
    this.nodes['name-form'].addEventListener('submit', (event) => {
      event.preventDefault();
      const row = this.nodes['password-row'];
      this.actions.submitName(this.nodes['name-input'].value.trim(), row.hidden ? null : this.nodes['password-input'].value);
    });
    this.nodes['menu-button'].addEventListener('click', () => this.toggle('nav-open', this.nodes['menu-button']));
    this.nodes['members-button'].addEventListener('click', () => this.toggleMembers());
    this.nodes.log.addEventListener('click', (event) => this.onLogClick(event));
    // On a phone the sidebar folds out over the page; a tap beside it folds it back.
    document.addEventListener('click', (event) => {
      if (!document.body.classList.contains('nav-open')) return;
      if (event.target.closest('#sidebar, #menu-button')) return;
      this.toggle('nav-open', this.nodes['menu-button'], false);
    });
    this.renderAll();
  }

  toggle(cls, button, force = undefined) {
    const on = document.body.classList.toggle(cls, force);
    button.setAttribute('aria-expanded', String(on));
    return on;
  }

  /** The members pane: shown by default on wide screens, on demand on narrow ones. */
  toggleMembers(force = undefined) {
    document.body.classList.toggle('members-toggled', force);
    this.syncMembersButton();
  }

  syncMembersButton() {
    const shown = window.getComputedStyle(this.nodes['members-pane']).display !== 'none';
    this.nodes['members-button'].setAttribute('aria-expanded', String(shown));
  }

  /** Esc: close the folded-out sidebar or members pane; true if one was open. */
  closePanels() {
    const navOpen = document.body.classList.contains('nav-open');
    const narrow = window.matchMedia('(max-width: 900px)').matches;
    const membersOpen = narrow && document.body.classList.contains('members-toggled');
    if (navOpen) this.toggle('nav-open', this.nodes['menu-button'], false);
    if (membersOpen) this.toggleMembers(false);
    return navOpen || membersOpen;
  }

  onChange(change) {
    const { type, conv } = change;
    if (type === 'convs' || type === 'me') this.renderSidebar();
    if (type === 'active') {
      this.renderSidebar();
      this.renderHeader();
      this.renderLog(true);
      this.renderMembers();
      this.toggle('nav-open', this.nodes['menu-button'], false);
    }
    if (type === 'members') this.renderSidebar(); // member counts, for every channel
    if (conv && conv !== this.state.active) return;
    if (type === 'items') this.onItems(change);
    if (type === 'members') {
      this.renderMembers();
      this.renderHeader();
    }
    if (type === 'topic') this.renderHeader();
    if (type === 'me') this.renderMembers();
  }

  renderAll() {
    this.renderSidebar();
    this.renderHeader();
    this.renderLog(true);
    this.renderMembers();
  }

  // --- sidebar and title -----------------------------------------------------------------

  renderSidebar() {
    keepFocus(this.nodes.sidebar, () => this.paintSidebar());
  }

  paintSidebar() {
    const { state } = this;
    this.nodes['me-nick'].textContent = state.me ?? '';
    const channels = [];
    const dms = [];
    for (const conv of state.ordered()) (conv.kind === 'channel' ? channels : dms).push(this.convItem(conv));
    this.nodes.channels.replaceChildren(...channels);
    this.nodes.dms.replaceChildren(...dms);
    if (!channels.length) this.nodes.channels.append(el('li', { class: 'empty' }, 'No channels yet: Browse or +'));
    const total = state.totalUnread();
    const badge = this.nodes['menu-badge'];
    badge.hidden = !total;
    badge.replaceChildren(hidden(', '), String(total), hidden(' unread'));
    const here = state.active ? state.active.name : null;
    document.title = `${total ? `(${total}) ` : ''}${here ? `${here} — ` : ''}Flack`;
  }

  convItem(conv) {
    const active = conv === this.state.active;
    const classes = ['conv-item', conv.unread ? 'unread' : '', conv.mentions ? 'mention' : '', active ? 'active' : ''];
    const count = conv.kind === 'channel' && conv.members.size
      ? el('span', { class: 'count', title: `${conv.members.size} members` }, hidden(', '), String(conv.members.size), hidden(' members'))
      : null;
    const unread = conv.unread ? el('span', { class: 'badge unread-badge', 'data-count': conv.unread }, hidden(', '), String(conv.unread), hidden(' unread')) : null;
    const mention = conv.mentions ? el('span', { class: 'badge mention-badge', 'data-count': conv.mentions }, hidden(', '), `@${conv.mentions}`, hidden(conv.mentions === 1 ? ' mention' : ' mentions')) : null;
    const button = el('button', { type: 'button', class: 'conv', 'aria-current': active ? 'page' : null, onclick: () => this.actions.open(conv.name) },
      el('span', { class: 'name' }, conv.name), count, unread, mention);
    return el('li', { class: classes.filter(Boolean).join(' '), 'data-conv': conv.name, 'data-read': conv.readId ?? null }, button);
  }

  // --- header and members ----------------------------------------------------------------

  renderHeader() {
    const conv = this.state.active;
    const { nodes } = this;
    nodes['conv-title'].textContent = conv ? conv.name : 'Flack';
    nodes.topic.textContent = conv?.kind === 'channel' ? conv.topic.text || 'No topic set: /topic <text> sets one.' : conv ? `Direct conversation with ${conv.name}` : '';
    nodes.topic.title = conv?.topic.setter ? `set by ${conv.topic.setter}${conv.topic.time ? ` at ${utcTitle(parseTime(conv.topic.time) ?? new Date())}` : ''}` : '';
    const n = conv?.kind === 'channel' ? conv.members.size : 0;
    nodes['member-count'].textContent = conv?.kind === 'channel' ? `${n} ${n === 1 ? 'member' : 'members'}` : '';
    nodes['members-button'].hidden = conv?.kind !== 'channel';
    this.syncMembersButton();
    nodes['composer-label'].textContent = conv ? `Message ${conv.name}` : 'Message';
    nodes.composer.disabled = !conv;
    nodes.log.setAttribute('aria-label', conv ? `Messages in ${conv.name}` : 'Messages');
  }

  renderMembers() {
    keepFocus(this.nodes.members, () => this.paintMembers());
  }

  paintMembers() {
    const conv = this.state.active;
    const me = this.state.me ?? '';
    let nicks = [];
    if (conv?.kind === 'channel') nicks = [...conv.members.values()];
    else if (conv) nicks = fold(conv.name) === fold(me) ? [me] : [me, conv.name];
    // Operators (@), then voiced members (+), then everyone else, each alphabetically.
    const role = (nick) => (conv?.kind === 'channel' ? conv.roles.get(fold(nick)) ?? '' : '');
    const rank = (nick) => `${{ '@': 0, '+': 1 }[rolePrefix(role(nick))] ?? 2} ${fold(nick)}`;
    nicks.sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
    this.nodes.members.replaceChildren(...nicks.map((nick) => el('li', {
      'data-nick': nick, 'data-role': { '@': 'op', '+': 'voice' }[rolePrefix(role(nick))] ?? null,
      class: fold(nick) === fold(me) ? 'me' : null,
    }, el('button', { type: 'button', class: 'member', title: `Message ${nick}`, onclick: () => this.actions.openDm(nick) },
      rolePrefix(role(nick)) ? el('span', { class: 'role', title: role(nick).includes('o') ? 'channel operator' : 'voiced' }, rolePrefix(role(nick))) : null,
      nick))));
  }

  // --- the message log -------------------------------------------------------------------

  atBottom() {
    const s = this.nodes.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  scrollToBottom() {
    this.nodes.scroller.scrollTop = this.nodes.scroller.scrollHeight;
  }

  /** Whether the user can see the newest messages of `conv` right now. */
  seeing(conv) {
    return conv === this.state.active && document.visibilityState === 'visible' && this.atBottom();
  }

  renderLog(toBottom = false, keep = null) {
    const editing = this.editing;
    const draft = editing ? this.nodes.log.querySelector('.edit-input')?.value : null;
    this.editing = null;
    keepFocus(this.nodes.log, () => this.paintLog(toBottom, keep));
    if (editing && this.state.active?.items.includes(editing) && !editing.deleted) {
      this.startEdit(editing, draft);
    }
  }

  paintLog(toBottom, keep) {
    const conv = this.state.active;
    const log = this.nodes.log;
    const s = this.nodes.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const stick = toBottom || this.atBottom();
    log.setAttribute('aria-busy', 'true');
    log.dataset.conv = conv ? conv.name : '';
    const nodes = [];
    let day = null;
    for (const item of conv ? conv.items : []) {
      const date = parseTime(item.time);
      if (item.type === 'msg' && date && dayKey(date) !== day) {
        day = dayKey(date);
        nodes.push(el('li', { class: 'day' }, localDay(date)));
      }
      nodes.push(this.itemNode(item));
    }
    log.replaceChildren(...nodes);
    this.lastDay = day;
    log.removeAttribute('aria-busy');
    this.renderOlder();
    if (keep === 'top' && !stick) s.scrollTop = s.scrollHeight - fromBottom;
    else if (stick) this.scrollToBottom();
  }

  renderOlder() {
    const conv = this.state.active;
    const button = this.nodes['older-button'];
    button.hidden = !conv || !conv.more;
    button.disabled = !!conv?.loadingOlder;
    button.textContent = conv?.loadingOlder ? 'Loading older messages…' : 'Show older messages';
  }

  onItems({ op, item, kept }) {
    if (op === 'append') {
      const stick = this.atBottom();
      const date = parseTime(item.time);
      if (item.type === 'msg' && date && dayKey(date) !== this.lastDay) {
        this.lastDay = dayKey(date);
        this.nodes.log.append(el('li', { class: 'day' }, localDay(date)));
      }
      this.nodes.log.append(this.itemNode(item));
      if (stick || (item.type === 'msg' && this.state.isMe(item.author))) this.scrollToBottom();
    } else if (op === 'update' || op === 'remove') {
      const node = this.findNode(item);
      if (!node) return;
      if (op === 'remove') node.remove();
      else if (this.editing !== item) node.replaceWith(this.itemNode(item));
    } else {
      this.renderLog(false, kept);
    }
    this.renderOlder();
  }

  findNode(item) {
    for (const node of this.nodes.log.children) {
      if ((item.id && node.dataset.id === item.id) || (item.localId && node.dataset.localId === item.localId)) return node;
    }
    return null;
  }

  itemNode(item) {
    return itemNode(item, this.state.me ?? '');
  }

  onLogClick(event) {
    const button = event.target.closest('button[data-action]');
    const li = button?.closest('li.msg');
    if (!li || !li.flackItem) return;
    const item = li.flackItem;
    const action = button.dataset.action;
    if (action === 'edit') this.startEdit(item);
    else if (action === 'delete') this.confirmDelete(li, item);
    else if (action === 'confirm-delete') this.actions.del(item);
    else if (action === 'cancel-delete') li.replaceWith(this.itemNode(item));
    else if (action === 'retry') this.actions.retry(item);
    else if (action === 'discard') this.actions.discard(item);
  }

  confirmDelete(li, item) {
    const cancel = el('button', { type: 'button', class: 'cancel-delete', 'data-action': 'cancel-delete' }, 'Cancel');
    const box = el('span', { class: 'confirm', role: 'group', 'aria-label': 'Delete this message?' }, 'Delete this message? ',
      el('button', { type: 'button', class: 'confirm-delete', 'data-action': 'confirm-delete' }, 'Delete'), ' ', cancel);
    li.querySelector('.tools')?.replaceWith(box);
    box.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.findNode(item)?.replaceWith(this.itemNode(item));
        this.nodes.composer.focus();
      }
    });
    cancel.focus();
  }

  /** Edit in place: Enter saves (EDIT <id> <text>), Esc cancels. */
  startEdit(item, draft = null) {
    const node = this.findNode(item);
    if (!node || item.deleted || !item.id) return;
    this.editing = item;
    const input = el('input', { type: 'text', class: 'edit-input', value: draft ?? item.text, 'aria-label': 'Edit message', autocomplete: 'off' });
    const finish = () => {
      this.editing = null;
      this.findNode(item)?.replaceWith(this.itemNode(item));
      this.nodes.composer.focus();
    };
    const form = el('form', { class: 'edit-form' }, input,
      el('button', { type: 'submit', class: 'save' }, 'Save'),
      el('button', { type: 'button', class: 'cancel', onclick: finish }, 'Cancel'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (text && text !== item.text) this.actions.edit(item, text);
      finish();
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        finish();
      }
    });
    node.querySelector('.text').replaceWith(form);
    node.querySelector('.tools')?.remove();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  onScroll() {
    const conv = this.state.active;
    if (!conv) return;
    if (this.nodes.scroller.scrollTop < 80 && conv.more && !conv.loadingOlder) this.actions.loadOlder();
    if (this.atBottom()) this.actions.seen(conv);
  }

  // --- status, name form, notices --------------------------------------------------------

  status(phase, info = {}) {
    this.statusText(phase, info);
    // While the name form covers the page, it tells what the connection does.
    const text = phase === 'idle' || phase === 'online' ? '' : this.nodes.status.textContent;
    this.nodes['name-status'].textContent = text;
  }

  statusText(phase, info) {
    const node = this.nodes.status;
    const button = this.nodes['reconnect-button'];
    window.clearInterval(this.statusTimer);
    node.dataset.state = phase;
    button.hidden = phase !== 'offline' && phase !== 'stopped';
    document.body.classList.toggle('is-offline', phase === 'offline');
    if (phase === 'offline') {
      button.textContent = 'Reconnect now';
      const show = () => {
        const secs = Math.max(0, Math.ceil((info.at - Date.now()) / 1000));
        const when = info.online === false ? 'waiting for the network' : `reconnecting in ${secs} s`;
        node.textContent = `Offline: ${when} (try ${info.attempt}). Messages you send now are kept and go out once connected.`;
        if (!this.nodes.welcome.hidden) this.nodes['name-status'].textContent = node.textContent;
      };
      show();
      this.statusTimer = window.setInterval(show, 1000);
    } else if (phase === 'stopped') {
      node.textContent = info.reason === 'RESUMED' ? 'Your session continued in another window or tab.' : 'You left Flack: your session has ended.';
      button.textContent = info.reason === 'RESUMED' ? 'Use it here' : 'Come back';
    } else {
      node.textContent = phase === 'online' && this.state.me ? `Connected as ${this.state.me}` : STATUS_TEXT[phase] ?? phase;
    }
  }

  askName(error, nick, password = false) {
    const { nodes } = this;
    nodes.welcome.hidden = false;
    nodes['password-row'].hidden = !password;
    nodes['password-input'].required = password;
    if (password) nodes['password-input'].value = '';
    nodes.app.inert = true;
    nodes['name-error'].textContent = error ?? '';
    nodes['name-input'].setAttribute('aria-invalid', error ? 'true' : 'false');
    if (nick && !nodes['name-input'].value) nodes['name-input'].value = nick;
    nodes['name-input'].focus();
    nodes['name-input'].select();
  }

  nameAccepted() {
    this.nodes.welcome.hidden = true;
    this.nodes.app.inert = false;
    this.nodes['name-error'].textContent = '';
    if (document.activeElement === document.body || !document.activeElement) this.nodes.composer.focus();
  }

  nameError(text) {
    this.nodes['name-error'].textContent = text;
    this.nodes['name-input'].setAttribute('aria-invalid', 'true');
    this.nodes['name-input'].focus();
  }

  /** A line for the user in the open conversation (errors, /help, /names...). */
  notice(text, { error = false } = {}) {
    const conv = this.state.active;
    if (conv) {
      this.state.addLine(conv, 'notice', text, { error });
    } else {
      this.nodes.log.append(el('li', { class: error ? 'notice error' : 'notice' }, el('span', { class: 'text', dir: 'auto' }, text)));
    }
    this.scrollToBottom();
  }
}

// The three dialogs: the quick switcher (Ctrl+K), browsing and creating channels (LIST,
// CREATE), and starting a direct conversation.
//
// Hooks: dialog#switcher, #switcher-input, #switcher-list > li[data-conv][role=option]
//        dialog#browse-dialog, #browse-filter, #browse-list > li[data-channel] button.join,
//        #create-form, #create-input, #create-error (role=alert), button.join-existing
//        dialog#dm-dialog, #dm-form, #dm-input, #dm-error

import { byId, el, hidden } from './dom.js';
import { fold, isValidChannel, isValidNick } from './protocol.js';

function closeOnSubmit(form, handler) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    handler();
  });
}

export class Dialogs {
  constructor(state, actions) {
    this.state = state;
    this.actions = actions;
    this.switcher = byId('switcher');
    this.switcherInput = byId('switcher-input');
    this.switcherList = byId('switcher-list');
    this.browse = byId('browse-dialog');
    this.browseFilter = byId('browse-filter');
    this.browseList = byId('browse-list');
    this.createInput = byId('create-input');
    this.createError = byId('create-error');
    this.dm = byId('dm-dialog');
    this.dmInput = byId('dm-input');
    this.dmError = byId('dm-error');
    this.selected = 0;
    this.matches = [];

    this.switcherInput.addEventListener('input', () => this.renderSwitcher());
    this.switcherInput.addEventListener('keydown', (event) => this.onSwitcherKey(event));
    closeOnSubmit(byId('switcher-form'), () => this.pick(this.matches[this.selected]));
    this.browseFilter.addEventListener('input', () => this.renderBrowse());
    closeOnSubmit(byId('create-form'), () => this.create());
    this.createInput.addEventListener('input', () => { this.createError.replaceChildren(); });
    closeOnSubmit(byId('dm-form'), () => this.startDm());
    for (const id of ['browse-close', 'dm-close']) byId(id).addEventListener('click', (e) => e.target.closest('dialog').close());
    for (const dialog of [this.switcher, this.browse, this.dm]) {
      dialog.addEventListener('close', () => this.actions.focusComposer());
      dialog.addEventListener('click', (event) => {
        if (event.target === dialog) dialog.close(); // a click on the backdrop
      });
    }
  }

  get anyOpen() {
    return this.switcher.open || this.browse.open || this.dm.open;
  }

  // --- quick switcher --------------------------------------------------------------------

  openSwitcher() {
    if (this.switcher.open) return;
    this.switcherInput.value = '';
    this.switcher.showModal();
    this.renderSwitcher();
    this.switcherInput.focus();
  }

  /** Conversations (unread and mentions first), then channels you are not in, filtered. */
  candidates(query) {
    const q = fold(query.trim().replace(/^@/, ''));
    const convs = this.state.ordered();
    const known = new Set(convs.map((c) => c.key));
    const rows = convs.map((c) => ({ name: c.name, conv: c, hint: c.mentions ? `@${c.mentions}` : c.unread ? String(c.unread) : '' }));
    for (const ch of this.state.channelList.values()) {
      if (!known.has(fold(ch.name))) rows.push({ name: ch.name, conv: null, hint: 'join' });
    }
    let out = rows.filter((r) => !q || fold(r.name).includes(q));
    const rank = (r) => (fold(r.name).replace(/^#/, '').startsWith(q.replace(/^#/, '')) ? 0 : 1) * 4
      + (r.conv ? (r.conv.mentions ? 0 : r.conv.unread ? 1 : 2) : 3);
    out = out.sort((a, b) => rank(a) - rank(b));
    const typed = query.trim();
    if (typed && !out.some((r) => fold(r.name) === fold(typed))) {
      if (isValidChannel(typed)) out.push({ name: typed, conv: null, hint: 'join or create' });
      else if (isValidNick(typed.replace(/^@/, ''))) out.push({ name: typed.replace(/^@/, ''), conv: null, hint: 'message' });
    }
    return out.slice(0, 30);
  }

  renderSwitcher() {
    this.matches = this.candidates(this.switcherInput.value);
    this.selected = 0;
    this.paintSwitcher();
  }

  paintSwitcher() {
    const items = this.matches.map((row, i) => el('li', {
      id: `switcher-opt-${i}`, role: 'option', 'data-conv': row.name, 'aria-selected': String(i === this.selected),
      onclick: () => this.pick(row),
    }, el('span', { class: 'name' }, row.name), row.hint ? el('span', { class: 'hint' }, hidden(', '), row.hint) : null));
    this.switcherList.replaceChildren(...items);
    if (!items.length) this.switcherList.append(el('li', { class: 'empty' }, 'Nothing matches'));
    if (this.matches.length) this.switcherInput.setAttribute('aria-activedescendant', `switcher-opt-${this.selected}`);
    else this.switcherInput.removeAttribute('aria-activedescendant');
  }

  onSwitcherKey(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    if (!this.matches.length) return;
    const step = event.key === 'ArrowDown' ? 1 : -1;
    this.selected = (this.selected + step + this.matches.length) % this.matches.length;
    this.paintSwitcher();
    byId(`switcher-opt-${this.selected}`).scrollIntoView({ block: 'nearest' });
  }

  pick(row) {
    if (!row) return;
    this.switcher.close();
    if (row.conv) this.actions.open(row.conv.name);
    else if (row.name.startsWith('#')) this.actions.join(row.name);
    else this.actions.openDm(row.name);
  }

  // --- browsing and creating channels ----------------------------------------------------

  openBrowse(focusCreate = false) {
    this.createError.replaceChildren();
    this.browseFilter.value = '';
    this.createInput.value = '';
    this.browseList.replaceChildren(el('li', { class: 'empty' }, 'Loading the channel list…'));
    if (!this.browse.open) this.browse.showModal();
    this.actions.list();
    (focusCreate ? this.createInput : this.browseFilter).focus();
  }

  /** The LIST reply arrived (state.channelList). */
  listed() {
    if (this.browse.open) this.renderBrowse();
  }

  renderBrowse() {
    const q = fold(this.browseFilter.value.trim());
    const rows = [...this.state.channelList.values()]
      .filter((c) => !q || fold(c.name).includes(q) || fold(c.topic).includes(q))
      .sort((a, b) => (fold(a.name) < fold(b.name) ? -1 : 1));
    const items = rows.map((c) => {
      const mine = this.state.get(c.name)?.joined;
      return el('li', { 'data-channel': c.name },
        el('span', { class: 'name' }, c.name),
        el('span', { class: 'count' }, `${c.members} ${c.members === 1 ? 'member' : 'members'}`),
        el('span', { class: 'topic', dir: 'auto' }, c.topic),
        el('button', {
          type: 'button', class: 'join', 'aria-label': `${mine ? 'Open' : 'Join'} ${c.name}`,
          onclick: () => { this.browse.close(); this.actions.join(c.name); },
        }, mine ? 'Open' : 'Join'));
    });
    this.browseList.replaceChildren(...items);
    if (!items.length) this.browseList.append(el('li', { class: 'empty' }, q ? 'No channel matches.' : 'No channels yet: create the first one.'));
  }

  create() {
    const raw = this.createInput.value.trim();
    const name = raw.startsWith('#') ? raw : `#${raw}`;
    if (!isValidChannel(name)) {
      this.createError.replaceChildren('A channel name is # and then 1-32 letters, digits, _ or - (no spaces).');
      return;
    }
    this.createError.replaceChildren();
    this.actions.create(name);
  }

  /** CREATE was refused: say why; for a taken name, offer to join it. */
  showCreateError(msg) {
    const taken = msg.code === 'CHANNEL_EXISTS' ? msg.params[0] : null;
    const text = taken ? `${taken} already exists (names ignore letter case). Pick another name, or join it.` : msg.text;
    this.createError.replaceChildren(text);
    if (taken) {
      this.createError.append(' ', el('button', {
        type: 'button', class: 'join-existing', onclick: () => { this.browse.close(); this.actions.join(taken); },
      }, `Join ${taken}`));
    }
    if (!this.browse.open) this.actions.notice(text, true);
  }

  created() {
    if (this.browse.open) this.browse.close();
  }

  // --- direct messages -------------------------------------------------------------------

  openDm() {
    this.dmInput.value = '';
    this.dmError.replaceChildren();
    this.dm.showModal();
    this.dmInput.focus();
  }

  startDm() {
    const nick = this.dmInput.value.trim().replace(/^@/, '');
    if (!isValidNick(nick)) {
      this.dmError.replaceChildren('A name is 1-16 letters, digits, _ or -, starting with a letter.');
      return;
    }
    this.dm.close();
    this.actions.openDm(nick);
  }
}

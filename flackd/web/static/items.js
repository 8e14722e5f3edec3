// One line of the message log as DOM: a message (author, <time>, text, "(edited)", the
// tools for your own) or an event, gap or notice line. Text only, never markup: whatever
// the server sent is a text node here.

import { append, el, parseTime, timeNode, utcTitle } from './dom.js';
import { fold, mentions } from './protocol.js';

/** The <li> for `item` (see state.js), as seen by `me`. */
export function itemNode(item, me) {
  if (item.type !== 'msg') {
    const cls = item.type === 'notice' && item.error ? 'notice error' : item.type;
    const date = parseTime(item.time);
    return el('li', { class: cls }, item.type === 'gap' ? null : timeNode(date ?? new Date()), el('span', { class: 'text', dir: 'auto' }, item.text));
  }
  const own = fold(item.author) === fold(me);
  const classes = ['msg', own ? 'own' : '', item.action ? 'action' : '', item.notice ? 'notice-msg' : '', item.edited ? 'edited' : '', item.deleted ? 'deleted' : '',
    item.pending ? 'pending' : '', item.pending === 'failed' ? 'failed' : '',
    !own && !item.deleted && mentions(item.text, me) ? 'mention' : ''];
  const li = el('li', {
    class: classes.filter(Boolean).join(' '), 'data-id': item.id || null, 'data-local-id': item.localId || null, 'data-author': item.author,
  });
  const author = el('span', { class: 'author' }, item.notice ? `-${item.author}-` : item.author);
  const text = el('span', { class: 'text', dir: 'auto' }, item.deleted ? deletedText(item) : item.text);
  if (item.action) append(li, el('span', { class: 'star', 'aria-hidden': 'true' }, '*'), author, timeNode(item.time), text);
  else append(li, author, timeNode(item.time), text);
  if (item.edited && !item.deleted) {
    const date = parseTime(item.edited);
    append(li, ' ', el('span', { class: 'edited-mark', title: date ? `edited ${utcTitle(date)}` : 'edited' }, '(edited)'));
  }
  if (item.pending) {
    const label = item.pending === 'failed' ? `Not sent: ${item.error || 'the server refused it'}` : item.pending === 'queued' ? 'Waiting for the connection…' : 'Sending…';
    append(li, el('span', { class: 'send-state', role: item.pending === 'failed' ? 'alert' : null }, label));
    if (item.pending === 'failed') {
      append(li, el('button', { type: 'button', class: 'retry', 'data-action': 'retry' }, 'Retry'),
        el('button', { type: 'button', class: 'discard', 'data-action': 'discard' }, 'Discard'));
    }
  } else if (own && item.id && !item.deleted) {
    append(li, el('span', { class: 'tools' },
      el('button', { type: 'button', class: 'edit', 'data-action': 'edit', 'aria-label': 'Edit message' }, 'Edit'),
      el('button', { type: 'button', class: 'delete', 'data-action': 'delete', 'aria-label': 'Delete message' }, 'Delete')));
  }
  li.flackItem = item;
  return li;
}

/** What a deleted message shows: who deleted it when an operator did, and why if said. */
function deletedText(item) {
  const by = item.deletedBy ? ` by ${item.deletedBy}` : '';
  const why = item.deleteReason ? `: ${item.deleteReason}` : '';
  return by || why ? `This message was deleted${by}${why}.` : 'This message was deleted.';
}

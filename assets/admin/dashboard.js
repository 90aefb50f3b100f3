// The admin dashboard: asks for the token, keeps it in sessionStorage (this
// tab only), polls the guarded JSON routes once a second and draws them.
// Every value goes into the page as text, never as markup: channel names
// and log lines come from users.
'use strict';

const KEY = 'switchboard.adminToken';
const POLL_MS = 1000;
const WINDOW_S = 600;
const $ = (id) => document.getElementById(id);
let timer = null;
let polls = 0;

class WrongToken extends Error {}

async function get(path) {
  const token = sessionStorage.getItem(KEY) || '';
  const res = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
  if (res.status === 401) throw new WrongToken();
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString();
}

function text(id, value) {
  $(id).textContent = String(value);
}

// Replaces a table body with one row per item; cells are [text, class].
function rows(tableId, items, cells, rowId) {
  const body = $(tableId).tBodies[0];
  const fresh = document.createElement('tbody');
  for (const item of items) {
    const tr = document.createElement('tr');
    if (rowId) tr.id = rowId(item);
    for (const [value, cls] of cells(item)) {
      const td = document.createElement('td');
      td.textContent = value == null ? '–' : String(value);
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    fresh.appendChild(tr);
  }
  body.replaceWith(fresh);
}

function drawRate(series) {
  // Left-pad to the full window so "now" is always at the right edge.
  const values = new Array(Math.max(0, WINDOW_S - series.length)).fill(0).concat(series.slice(-WINDOW_S));
  const max = Math.max(1, ...values);
  const step = 600 / (values.length - 1 || 1);
  let line = '';
  values.forEach((v, i) => {
    line += (i === 0 ? 'M' : 'L') + (i * step).toFixed(1) + ' ' + (100 - (v / max) * 95).toFixed(1);
  });
  $('rate-line').setAttribute('d', line);
  $('rate-area').setAttribute('d', line + 'L600 100L0 100Z');
  text('rate-max', 'peak ' + Math.max(0, ...values) + '/s');
}

function render(stats, activity) {
  text('server-name', '· ' + stats.server.name + ' (' + stats.server.domain + ')');
  text('conn-total', stats.connections_total);
  rows('connections', Object.entries(stats.connections), ([dialect, n]) => [[dialect], [n, 'num']],
    ([dialect]) => 'conn-' + dialect);
  text('messages-total', stats.messages_created);
  text('messages-rate', stats.messages_per_second);
  text('messages-stored', stats.messages_stored);
  text('deliveries', stats.deliveries);
  text('slow-consumers', stats.slow_consumers);
  text('bytes-on-disk', bytes(stats.bytes_on_disk));
  text('files-count', stats.files.count);
  text('files-logical', bytes(stats.files.logical_bytes));
  text('files-stored', bytes(stats.files.stored_bytes));
  text('dedup-ratio', stats.files.dedup_ratio.toFixed(2) + '×');
  text('users-channels', stats.users + ' / ' + stats.channels);
  const peers = stats.federation.peers || [];
  $('peers-empty').hidden = peers.length > 0;
  rows('peers', peers, (p) => [[p.domain], [p.outbox, 'num'], [p.delivered, 'num'], [p.failures, 'num'], [p.last_error]]);

  drawRate(activity.message_rate.per_second);
  rows('top-channels', activity.top_channels.channels, (c) => [['#' + (c.name || c.id)], [c.guild], [c.messages, 'num']]);
  rows('errors', activity.recent_errors, (e) => [[clock(e.at_ms)], [e.level, 'level-' + e.level], [e.target + ': ' + e.message]]);
  const codes = activity.nynja.codes;
  $('nynja').hidden = !codes;
  if (codes) {
    rows('nynja-codes', codes, (c) => [[clock(c.issued_at_ms)], [c.phone], [c.code, 'num'], [c.pending ? 'waiting' : 'used']]);
  }
  polls += 1;
  text('status', 'live · up ' + stats.uptime_s + ' s · updated ' + new Date().toLocaleTimeString());
  document.body.dataset.polls = String(polls);
}

function showLogin(message) {
  clearTimeout(timer);
  timer = null;
  sessionStorage.removeItem(KEY);
  document.body.dataset.state = message ? 'refused' : 'login';
  $('dashboard').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').hidden = !message;
  $('login-error').textContent = message || '';
  $('token').value = '';
}

async function poll() {
  timer = null;
  try {
    const [stats, activity] = await Promise.all([get('/admin/stats'), get('/admin/activity')]);
    document.body.dataset.state = 'live';
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('logout').hidden = false;
    render(stats, activity);
  } catch (e) {
    if (e instanceof WrongToken) {
      showLogin('Wrong admin token. Nothing was shown or changed; try again.');
      return;
    }
    text('status', 'server unreachable: ' + e.message + ' (retrying)');
  }
  if (sessionStorage.getItem(KEY)) timer = setTimeout(poll, POLL_MS);
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('token').value.trim();
  if (!token) return;
  sessionStorage.setItem(KEY, token);
  $('login-error').hidden = true;
  clearTimeout(timer);
  poll();
});

$('logout').addEventListener('click', () => showLogin(''));

if (sessionStorage.getItem(KEY)) poll();

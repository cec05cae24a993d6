// The wallboard: polls /api/status (every second, or ?interval=ms) and draws it. Rates are the
// differences between two polls; charts are drawn by hand (canvas, SVG). Text from the status
// goes into the page through textContent only.
'use strict';
(function () {
  const params = new URLSearchParams(location.search);
  const interval = Math.max(250, Number(params.get('interval')) || 1000);
  const kHistory = 60;  // points kept per chart
  const board = (window.wallboard = {polls: 0, errors: 0, last: null, rates: {}, history: []});
  const tableHistory = new Map();  // table -> [rate, ...]
  let previous = null;             // {at, status}

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => Number(n).toLocaleString('en-US');
  const fmtRate = (r) => (r >= 100 ? Math.round(r) : Math.round(r * 10) / 10).toLocaleString('en-US');
  function fmtBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function push(list, v) {
    list.push(v);
    if (list.length > kHistory) list.shift();
  }

  function drawChart(canvas, values) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    const g = canvas.getContext('2d');
    g.scale(ratio, ratio);
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...values);
    g.strokeStyle = '#30363d';
    g.fillStyle = '#8b949e';
    g.font = '14px system-ui, sans-serif';
    for (let i = 0; i <= 4; i++) {
      const y = 8 + (h - 16) * i / 4;
      g.beginPath(); g.moveTo(60, y); g.lineTo(w, y); g.stroke();
      g.fillText(fmtRate(max * (4 - i) / 4), 4, y + 5);
    }
    if (values.length < 2) return;
    const x = (i) => 60 + (w - 60) * i / (kHistory - 1);
    const y = (v) => 8 + (h - 16) * (1 - v / max);
    g.beginPath();
    values.forEach((v, i) => (i === 0 ? g.moveTo(x(i), y(v)) : g.lineTo(x(i), y(v))));
    g.strokeStyle = '#58a6ff';
    g.lineWidth = 3;
    g.stroke();
    g.lineTo(x(values.length - 1), h - 8);
    g.lineTo(x(0), h - 8);
    g.closePath();
    g.fillStyle = 'rgba(88,166,255,0.15)';
    g.fill();
  }

  function sparkline(values) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 200 32');
    svg.setAttribute('preserveAspectRatio', 'none');
    const max = Math.max(1, ...values);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', values.map((v, i) =>
      (200 * i / (kHistory - 1)).toFixed(1) + ',' + (30 - 28 * v / max).toFixed(1)).join(' '));
    svg.appendChild(line);
    return svg;
  }

  function rateOf(now, before, seconds) {
    return before === undefined || seconds <= 0 ? 0 : Math.max(0, (now - before) / seconds);
  }

  function render(s, at) {
    const seconds = previous ? (at - previous.at) / 1000 : 0;
    const before = previous ? previous.status : null;

    $('pipeline').textContent = s.pipeline;
    const state = $('state');
    state.textContent = s.running ? 'running' : 'stopped';
    state.className = 'badge ' + (s.running ? 'ok' : 'bad');
    $('source-type').textContent = s.source.type;
    $('source-position').textContent = s.source.deliveredPosition || '-';
    $('last-checkpoint').textContent = s.lastCheckpoint;
    $('updated').textContent = 'updated ' + new Date(at).toLocaleTimeString();

    $('published').textContent = fmt(s.published);
    const rate = rateOf(s.published, before && before.published, seconds);
    board.rates.total = rate;
    push(board.history, rate);
    $('rate').textContent = fmtRate(rate);
    const dead = $('dead-lettered');
    dead.textContent = fmt(s.deadLettered);
    dead.className = 'value' + (s.deadLettered > 0 ? ' bad' : '');
    $('unmatched').textContent = fmt(s.unmatched);
    if (s.source.lagBytes !== undefined) {
      $('lag-bytes').textContent = fmtBytes(s.source.lagBytes);
      $('lag-seconds').textContent = s.source.lagSeconds.toFixed(1) + ' s behind';
    } else {
      $('lag-bytes').textContent = '-';
      $('lag-seconds').textContent = s.source.lagUnknown || 'no upstream lag';
    }
    drawChart($('rate-chart'), board.history);

    const snap = s.snapshot;
    $('snapshot-panel').hidden = !snap;
    if (snap) {
      const pct = Math.round(snap.fraction * 1000) / 10;
      $('snapshot-bar').style.width = pct + '%';
      $('snapshot-text').textContent = snap.done
        ? 'done (' + snap.tables + ' tables, ' + fmt(snap.chunks) + ' chunks)'
        : pct + '% - ' + snap.tablesDone + '/' + snap.tables + ' tables' +
          (snap.table ? ', ' + snap.table + ' ' + fmt(snap.tableRows) + ' rows' : '');
    }

    const tables = s.tables || {};
    const tbody = $('tables').tBodies[0];
    tbody.replaceChildren();
    const names = Object.keys(tables).sort();
    for (const name of names) {
      const t = tables[name];
      const r = rateOf(t.published, before && before.tables && before.tables[name] &&
                       before.tables[name].published, seconds);
      board.rates[name] = r;
      if (!tableHistory.has(name)) tableHistory.set(name, []);
      push(tableHistory.get(name), r);
      const row = el('tr');
      row.dataset.table = name;
      row.appendChild(el('td', name));
      row.appendChild(el('td', fmtRate(r), 'num rate'));
      const published = el('td', fmt(t.published), 'num published');
      row.appendChild(published);
      const spark = el('td');
      spark.appendChild(sparkline(tableHistory.get(name)));
      row.appendChild(spark);
      tbody.appendChild(row);
    }
    if (names.length === 0) {
      const row = el('tr');
      row.appendChild(el('td', 'no per-table counts in this status', 'none'));
      tbody.appendChild(row);
    }

    const targets = $('targets').tBodies[0];
    targets.replaceChildren();
    for (const [name, t] of Object.entries(s.targets).sort()) {
      const row = el('tr');
      row.dataset.target = name;
      row.appendChild(el('td', name));
      row.appendChild(el('td', fmt(t.delivered), 'num delivered'));
      row.appendChild(el('td', fmt(t.deadLettered), 'num dead' + (t.deadLettered > 0 ? ' bad' : '')));
      row.appendChild(el('td', fmt(t.pending), 'num pending'));
      targets.appendChild(row);
    }

    const shards = $('shards');
    shards.replaceChildren();
    const maxLag = Math.max(1, ...s.shards.map((x) => x.lag));
    for (const sh of s.shards) {
      const line = el('div', undefined, 'shard');
      line.dataset.shard = String(sh.shard);
      line.appendChild(el('span', 'shard ' + sh.shard));
      const bar = el('div', undefined, 'bar');
      const fill = el('div');
      fill.style.width = (100 * sh.lag / maxLag) + '%';
      bar.appendChild(fill);
      line.appendChild(bar);
      line.appendChild(el('span', fmt(sh.lag), 'n lag'));
      shards.appendChild(line);
    }

    const list = $('dead-letters');
    list.replaceChildren();
    for (const d of s.recentDeadLetters || []) {
      const li = el('li');
      li.appendChild(el('span', d.time, 'when'));
      li.appendChild(el('span', d.stage + (d.table ? ' ' + d.table : '') +
                        (d.target ? ' -> ' + d.target : ''), 'where'));
      li.appendChild(el('span', d.reason, 'reason'));
      list.appendChild(li);
    }
    if (!list.firstChild) list.appendChild(el('li', 'none', 'none'));
  }

  async function poll() {
    try {
      const res = await fetch('/api/status', {cache: 'no-store'});
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const status = await res.json();
      const at = Date.now();
      render(status, at);
      previous = {at, status};
      board.last = status;
      board.polls++;
    } catch (e) {
      board.errors++;
      const state = $('state');
      state.textContent = 'unreachable';
      state.className = 'badge bad';
    }
    setTimeout(poll, interval);
  }
  poll();
})();

// convoy live view: polls GET /v1/overview every second with the bearer token (kept in this
// tab's sessionStorage, sent as a header, never in a URL) and renders migrations, progress,
// the worst replica lag against its limit, agents, gates and the audit tail. Pause, resume
// and abort POST to /v1/migrations/NAME/OP after a confirmation. No external resources.
'use strict';

(function () {
  const POLL_MS = 1000;
  const WINDOW_MS = 120000; // the lag chart's time window
  const FRESH_S = 10; // a node view older than this is stale
  const ACTIVE = ['submitted', 'running', 'paused', 'aborting', 'interrupted'];
  const ABORTABLE = ['submitted', 'running', 'paused', 'interrupted', 'failed', 'blocked'];
  const KEY = 'convoy.token';

  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(KEY) || '';
  let inflight = false;
  let lastDoc = null;
  const cards = new Map(); // migration -> its elements
  const rates = new Map(); // migration -> {t, rows, rate}
  const lagHist = []; // {t, lag (ms or null), limit (ms or null)}

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function fmtInt(n) {
    return Number(n).toLocaleString('en-US');
  }

  function fmtDur(ms) {
    if (!isFinite(ms) || ms < 0) return '?';
    const s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  function fmtLag(ms) {
    return ms === null || ms === undefined ? '–' : (ms / 1000).toFixed(1) + ' s';
  }

  function fmtBytes(b) {
    if (b === null || b === undefined) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = b;
    while (v >= 1024 && i < u.length - 1) {
      v /= 1024;
      i++;
    }
    return (i ? v.toFixed(1) : v) + ' ' + u[i];
  }

  function fmtTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleTimeString('en-GB', { hour12: false });
  }

  function clip(text, n) {
    return text.length > n ? text.slice(0, n - 1) + '…' : text;
  }

  function setConn(state, text) {
    const c = $('conn');
    c.dataset.state = state;
    c.textContent = text;
  }

  let toastTimer = null;
  function toast(text, kind) {
    const t = $('toast');
    t.textContent = text;
    t.dataset.kind = kind || 'ok';
    t.dataset.show = '1';
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      t.dataset.show = '0';
    }, 6000);
  }

  async function api(method, path) {
    const r = await fetch(path, {
      method,
      headers: { Authorization: 'Bearer ' + token },
      cache: 'no-store',
      credentials: 'omit',
    });
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    return { status: r.status, body };
  }

  // ---- migrations ---------------------------------------------------------------------

  function button(label, op, card) {
    const b = el('button', op === 'abort' ? 'danger' : '', label);
    b.type = 'button';
    b.dataset.op = op;
    b.addEventListener('click', () => ask(card.name, op));
    return b;
  }

  function makeCard(name) {
    const c = { name };
    c.root = el('section', 'migration');
    c.root.dataset.migration = name;
    const head = el('div', 'mig-head');
    c.nameEl = el('span', 'mig-name', name);
    c.status = el('span', 'status');
    c.driver = el('span', 'muted');
    const btns = el('div', 'mig-buttons');
    c.pause = button('Pause', 'pause', c);
    c.resume = button('Resume', 'resume', c);
    c.abort = button('Abort', 'abort', c);
    btns.append(c.pause, c.resume, c.abort);
    head.append(c.nameEl, c.status, c.driver, btns);
    c.step = el('div', 'step');
    c.progress = el('div', 'progress');
    c.bar = el('div', 'bar');
    c.label = el('div', 'label');
    c.progress.append(c.bar, c.label);
    c.stats = el('div', 'stats');
    c.hold = el('div', 'hold');
    c.error = el('div', 'error');
    c.gates = el('div', 'gates');
    c.root.append(head, c.step, c.progress, c.stats, c.hold, c.error, c.gates);
    return c;
  }

  // rows/s from successive polls (smoothed); before two samples, the pass's average
  function rateOf(m, bf) {
    const now = Date.now();
    const prev = rates.get(m.migration);
    let rate = prev ? prev.rate : 0;
    if (prev && bf.rows_done > prev.rows && now > prev.t) {
      const inst = ((bf.rows_done - prev.rows) * 1000) / (now - prev.t);
      rate = rate > 0 ? 0.6 * rate + 0.4 * inst : inst;
    } else if (!prev && bf.elapsed_s > 0) {
      rate = bf.rows_done / bf.elapsed_s;
    }
    if (!prev || bf.rows_done !== prev.rows || now - prev.t > 3000) {
      rates.set(m.migration, { t: now, rows: bf.rows_done, rate });
    } else {
      prev.rate = rate;
    }
    if (m.status !== 'running' || m.hold_reason) return 0;
    return rate;
  }

  function stat(parent, label, value) {
    const s = el('span', '', label + ' ');
    s.append(el('b', '', value));
    parent.append(s);
  }

  function updateCard(c, m) {
    c.root.dataset.status = m.status;
    c.status.textContent = m.status;
    c.status.dataset.status = m.status;
    c.driver.textContent = m.lease_holder ? 'driven by ' + m.lease_holder : '';
    const steps = m.steps || [];
    const cur = steps.find((s) => s.n === m.current_step) || steps.find((s) => s.status !== 'done');
    c.step.replaceChildren();
    c.step.append('step ');
    c.step.append(el('b', '', (m.current_step || 0) + '/' + m.n_steps));
    if (cur) c.step.append(': ' + (cur.summary || cur.kind) + ' (' + cur.kind + ', ' + cur.status + ')');

    const bf = m.backfill;
    c.stats.replaceChildren();
    if (bf) {
      const total = bf.rows_total;
      let frac = total > 0 ? Math.min(1, bf.rows_done / total) : 0;
      const bfStep = steps.find((s) => s.n === bf.step);
      if (bfStep && bfStep.status === 'done') frac = 1;
      const rate = rateOf(m, bf);
      c.progress.hidden = false;
      c.progress.dataset.rowsDone = bf.rows_done;
      c.progress.dataset.rowsTotal = total === null ? '' : total;
      c.progress.dataset.rate = Math.round(rate);
      c.progress.dataset.state =
        m.status === 'paused' ? 'paused' : m.hold_reason ? 'held' : m.status;
      c.bar.style.width = (frac * 100).toFixed(2) + '%';
      c.label.textContent =
        'backfill ' + (frac * 100).toFixed(1) + '%  ·  ' + fmtInt(bf.rows_done) +
        (total > 0 ? ' / ' + fmtInt(total) : '') + ' rows';
      const held = m.status === 'paused' ? 'paused' : m.hold_reason ? 'held' : '';
      stat(c.stats, 'rows/s', held ? '0 (' + held + ')' : rate > 0 ? fmtInt(Math.round(rate))
        : m.status === 'running' ? '…' : '0');
      stat(c.stats, 'ETA', frac >= 1 ? 'done' : held || (rate > 0 && total > bf.rows_done
        ? fmtDur(((total - bf.rows_done) * 1000) / rate) : '?'));
      stat(c.stats, 'batches', fmtInt(bf.batches));
      if (bf.batch_size) stat(c.stats, 'batch', fmtInt(bf.batch_size) + ' rows');
      stat(c.stats, 'updated', fmtInt(bf.rows_updated));
    } else {
      c.progress.hidden = true;
    }
    if (m.worst_lag_ms !== null && m.worst_lag_ms !== undefined) {
      stat(c.stats, 'worst lag in run', fmtLag(m.worst_lag_ms));
    }
    c.hold.textContent = m.hold_reason || '';
    c.hold.dataset.kind = m.hold_reason && m.hold_reason.startsWith('paused') ? 'paused' : 'hold';
    c.error.textContent = m.error ? 'error: ' + m.error : '';
    c.gates.replaceChildren();
    for (const g of m.gates || []) {
      const chip = el('span', 'gate', g.gate + ': ' + g.state);
      chip.dataset.gate = g.gate;
      chip.dataset.state = g.state;
      chip.title = (g.reasons || []).join('; ');
      c.gates.append(chip);
    }
    const noToken = !token;
    c.pause.disabled = noToken || m.status !== 'running';
    c.resume.disabled = noToken || m.status !== 'paused';
    c.abort.disabled = noToken || !ABORTABLE.includes(m.status);
  }

  function renderMigrations(doc) {
    const box = $('migrations');
    const seen = new Set();
    const ms = doc.migrations || [];
    $('no-migrations').hidden = ms.length > 0;
    ms.forEach((m, i) => {
      seen.add(m.migration);
      let c = cards.get(m.migration);
      if (!c) {
        c = makeCard(m.migration);
        cards.set(m.migration, c);
      }
      updateCard(c, m);
      if (box.children[i] !== c.root) box.insertBefore(c.root, box.children[i] || null);
    });
    for (const [name, c] of cards) {
      if (!seen.has(name)) {
        c.root.remove();
        cards.delete(name);
      }
    }
  }

  // ---- fleet and lag ------------------------------------------------------------------

  function fresh(n) {
    return n.age_s !== null && n.age_s <= FRESH_S;
  }

  function renderFleet(doc) {
    const tb = $('fleet').tBodies[0];
    tb.replaceChildren();
    for (const n of doc.fleet || []) {
      const tr = el('tr');
      tr.dataset.node = n.node;
      tr.dataset.lagMs = n.lag_ms === null ? '' : n.lag_ms;
      const st = el('span', 'state', fresh(n) ? n.state : n.state + ' (stale)');
      st.dataset.state = fresh(n) ? n.state : 'unknown';
      const state = el('td');
      state.append(st);
      tr.append(el('td', '', n.node), el('td', '', n.role), state,
        el('td', 'lag', n.role === 'replica' ? fmtLag(n.lag_ms) : ''),
        el('td', '', n.role === 'replica' ? fmtBytes(n.lag_bytes) : ''),
        el('td', '', n.age_s === null ? '–' : n.age_s + ' s ago'),
        el('td', 'detail', n.detail || ''));
      tb.append(tr);
    }
  }

  // the limit of the migration in flight (a `convoy set max-lag` override), else the config's
  function lagLimit(doc) {
    const m = (doc.migrations || []).find((x) => ACTIVE.includes(x.status));
    if (m && m.max_lag_ms) return m.max_lag_ms;
    return doc.max_lag_ms || null;
  }

  function renderLag(doc) {
    let worst = null;
    let worstNode = null;
    for (const n of doc.fleet || []) {
      if (n.role === 'replica' && fresh(n) && n.lag_ms !== null && (worst === null || n.lag_ms > worst)) {
        worst = n.lag_ms;
        worstNode = n.node;
      }
    }
    const limit = lagLimit(doc);
    const now = Date.now();
    lagHist.push({ t: now, lag: worst, limit });
    while (lagHist.length && lagHist[0].t < now - WINDOW_MS) lagHist.shift();
    const w = $('worst-lag');
    w.dataset.lagMs = worst === null ? '' : worst;
    w.dataset.node = worstNode || '';
    w.textContent = worst === null ? '–' : fmtLag(worst) + ' (' + worstNode + ')';
    $('lag-limit').textContent = limit ? fmtLag(limit) : '–';
    drawChart(limit);
  }

  const SVG = 'http://www.w3.org/2000/svg'; // the SVG namespace name, not a resource
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function drawChart(limit) {
    const svg = $('lag-chart');
    const W = Math.max(200, svg.clientWidth || 600);
    const H = 180;
    const L = 44;
    const B = 18;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.replaceChildren();
    const now = Date.now();
    let top = Math.max(1000, (limit || 0) * 1.5);
    for (const p of lagHist) if (p.lag !== null) top = Math.max(top, p.lag * 1.15);
    // four grid lines at a round step: 250 ms, 500 ms, 1 s, 2 s, 5 s, 10 s, ...
    const steps = [250, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000];
    const tick = steps.find((v) => v * 4 >= top) || Math.ceil(top / 4 / 60000) * 60000;
    const ymax = tick * 4;
    const x = (t) => L + ((W - L - 6) * (t - (now - WINDOW_MS))) / WINDOW_MS;
    const y = (v) => 6 + (H - B - 6) * (1 - v / ymax);
    for (let i = 0; i <= 4; i++) {
      const v = tick * i;
      svg.append(svgEl('line', { class: 'grid', x1: L, x2: W - 6, y1: y(v), y2: y(v) }));
      const label = svgEl('text', { class: 'axis', x: L - 6, y: y(v) + 3, 'text-anchor': 'end' });
      label.textContent = tick < 1000 ? (v / 1000).toFixed(2) + ' s' : v / 1000 + ' s';
      svg.append(label);
    }
    for (let s = 0; s <= WINDOW_MS / 1000; s += 30) {
      const label = svgEl('text', { class: 'axis', x: x(now - s * 1000), y: H - 4, 'text-anchor': 'middle' });
      label.textContent = s ? '-' + s + ' s' : 'now';
      svg.append(label);
    }
    // the lag: segments between unknown samples
    let seg = [];
    const flush = () => {
      if (seg.length > 1) {
        const pts = seg.map((p) => x(p.t).toFixed(1) + ',' + y(p.lag).toFixed(1));
        const area = 'M' + x(seg[0].t).toFixed(1) + ',' + y(0) + ' L' + pts.join(' L') +
          ' L' + x(seg[seg.length - 1].t).toFixed(1) + ',' + y(0) + ' Z';
        svg.append(svgEl('path', { class: 'area', d: area }));
        svg.append(svgEl('polyline', { class: 'lag', points: pts.join(' ') }));
      }
      seg = [];
    };
    for (const p of lagHist) {
      if (p.lag === null) flush();
      else seg.push(p);
    }
    flush();
    if (limit) {
      svg.append(svgEl('line', { class: 'limit', x1: L, x2: W - 6, y1: y(limit), y2: y(limit) }));
    }
  }

  function renderAudit(doc) {
    const tb = $('audit').tBodies[0];
    tb.replaceChildren();
    for (const a of doc.audit || []) {
      const tr = el('tr');
      tr.dataset.action = a.action;
      const detail = el('td', 'detail', clip(a.detail || '', 180));
      detail.title = a.detail || '';
      tr.append(el('td', '', fmtTime(a.at)), el('td', '', a.migration || '–'),
        el('td', '', a.action + (a.step ? ' ' + a.step : '')), el('td', '', a.outcome),
        el('td', 'detail', a.actor), detail);
      tb.append(tr);
    }
  }

  function render(doc) {
    lastDoc = doc;
    $('cluster').textContent = doc.cluster ? 'cluster ' + doc.cluster : '';
    renderMigrations(doc);
    renderLag(doc);
    renderFleet(doc);
    renderAudit(doc);
  }

  async function poll() {
    if (!token) {
      setConn('idle', 'enter the token to connect');
      return;
    }
    if (inflight) return;
    inflight = true;
    try {
      const { status, body } = await api('GET', '/v1/overview');
      if (status === 200 && body) {
        setConn('ok', 'live · ' + fmtTime(body.now));
        render(body);
      } else if (status === 401) {
        setConn('error', 'token rejected');
      } else {
        setConn('error', (body && body.error) || 'HTTP ' + status);
      }
    } catch (e) {
      setConn('error', 'coordinator unreachable');
    } finally {
      inflight = false;
    }
  }

  // ---- operator requests ----------------------------------------------------------------

  const TEXT = {
    pause: 'The driver stops before its next batch or step and waits there. Nothing is undone; Resume continues from the checkpoint.',
    resume: 'The migration continues from where it paused.',
    abort: 'The driver stops at the next safe point and removes convoy\'s helpers. Completed steps and backfilled values are kept; convoy apply can resume it later.',
  };
  let pending = null;

  function ask(name, op) {
    if (!token) {
      toast('enter the token first', 'error');
      return;
    }
    pending = { name, op };
    $('confirm-title').textContent = op[0].toUpperCase() + op.slice(1) + ' migration ' + name + '?';
    $('confirm-text').textContent = TEXT[op];
    $('confirm-ok').textContent = op[0].toUpperCase() + op.slice(1);
    $('confirm-ok').dataset.op = op;
    $('confirm').showModal();
  }

  async function confirmed() {
    const p = pending;
    pending = null;
    $('confirm').close();
    if (!p) return;
    try {
      const { status, body } = await api('POST',
        '/v1/migrations/' + encodeURIComponent(p.name) + '/' + p.op);
      if (status >= 200 && status < 300) {
        toast(p.op + ' ' + p.name + ': ' + ((body && body.status) || 'requested') +
          (body && body.message ? ' (' + body.message + ')' : ''));
      } else {
        toast(p.op + ' ' + p.name + ' refused: ' + ((body && (body.error || body.message)) || 'HTTP ' + status), 'error');
      }
    } catch (e) {
      toast(p.op + ' ' + p.name + ': coordinator unreachable', 'error');
    }
    poll();
  }

  function init() {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token').value.trim();
      if (!v) return;
      token = v;
      sessionStorage.setItem(KEY, v);
      $('token').value = '';
      $('token').placeholder = 'token kept for this tab';
      poll();
    });
    $('token-forget').addEventListener('click', () => {
      token = '';
      sessionStorage.removeItem(KEY);
      $('token').placeholder = 'bearer token (http_token_file)';
      setConn('idle', 'enter the token to connect');
      if (lastDoc) renderMigrations(lastDoc);
    });
    $('confirm-ok').addEventListener('click', confirmed);
    $('confirm-cancel').addEventListener('click', () => {
      pending = null;
      $('confirm').close();
    });
    if (token) $('token').placeholder = 'token kept for this tab';
    poll();
    setInterval(poll, POLL_MS);
  }

  init();
})();

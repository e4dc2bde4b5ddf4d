/*
 * wizard.js — progressive enhancement for 湖南省产业集群竞赛申报系统.
 *
 * Loaded on every page with <script src="/static/js/wizard.js" defer>.
 * Plain ES2017 syntax (BigInt and \p{N}, where the browser has them, through
 * calls, never literals), no dependencies, no inline handlers (CSP). Every page must
 * work without this file; everything here only enhances server-rendered HTML.
 * The HTML contract (attributes, classes, JSON responses) is documented in
 * docs/frontend.md — keep both in sync.
 *
 * Behaviours:
 *   a. character counters        textarea[data-max-chars], or a textarea followed by .char-counter
 *   b. live growth rates         [data-growth][data-first][data-second][data-mode]
 *                                (the server's figure: report/numbers.py, tested in pairs)
 *   c. dynamic table rows        table[data-table], button[data-add-row|data-remove-row]
 *   d. paste from Excel          paste into an input inside table[data-table]
 *   e. dirty-state warning       form[data-dirty-warn]
 *   f. autosave                  form[data-autosave-url]
 *   g. local draft backup        form[data-local-key], [data-saved-ok]
 *   h. confirm buttons           [data-confirm]
 *   i. select-all checkbox       input[data-select-all]
 *   j. upload size check         input[type=file][data-max-file-bytes][data-max-request-bytes]
 *   k. file chooser              every input[type=file]: a 选择文件 label
 *                                with the chosen names; 上传 with no file chosen says so
 *   plus: error-summary focus, Enter-key guard for tables, bfcache reset.
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------
  // Constants and messages
  // ------------------------------------------------------------------

  const DRAFT_PREFIX = 'wizard-draft:';
  const NOT_SAVED_NAMES = ['csrf_token', 'version'];
  const AUTOSAVE_DEBOUNCE_MS = 3000;
  const AUTOSAVE_MIN_INTERVAL_MS = 15000;
  const AUTOSAVE_TIMEOUT_MS = 30000;
  const LOCAL_DEBOUNCE_MS = 500;
  const DASH = '—';

  const MSG = {
    saving: '正在自动保存…',
    saved: function (t) { return '已自动保存 ' + t; },
    expired: '登录已过期或网络中断，本页内容尚未保存到服务器。您填写的内容已保存在本浏览器中，重新登录后打开本页时将提示您恢复。',
    loginBack: '重新登录并返回本页',
    keptAfterSubmit: function (t) {
      return '您在“' + t + '”填写的内容未能保存到服务器（登录已过期），但已保存在本浏览器中；重新登录后打开该页面时，将提示您恢复这些内容。';
    },
    loginBackTo: '重新登录并返回该页面',
    conflict: '该内容已在其他窗口或设备中被修改，自动保存已停止。为避免覆盖他人修改，请先复制您的内容，再刷新页面。',
    invalid: '自动保存失败：填写内容有误，请检查后再保存',
    serverError: function (s) { return '服务器暂时无法保存（HTTP ' + s + '），内容已暂存在本机浏览器，请稍后再试'; },
    otherError: function (s) { return '自动保存失败（HTTP ' + s + '），请稍后手动保存'; },
    waitAutosave: '正在完成自动保存，请稍候…',
    charCount: function (n, max) { return '已输入 ' + n + ' / ' + max + ' 字'; },
    charOver: function (n, max) { return '已输入 ' + n + ' / ' + max + ' 字（超出 ' + (n - max) + ' 字）'; },
    charCountOnly: function (n) { return '已输入 ' + n + ' 字'; },
    chooseFile: '选择文件',
    noFileChosen: '未选择文件',
    filesChosen: function (names) { return '已选择：' + names.join('、'); },
    noFileToUpload: '请先选择要上传的文件',
    uploading: '正在上传…',
    scrollHint: '表格较宽，可左右滑动查看其余各列 →',
    uploaded: '已上传，本页内容已保存',
    maxRows: function (n) { return '最多 ' + n + ' 行'; },
    rowAdded: function (i) { return '已添加第 ' + i + ' 行'; },
    rowRemoved: function (i) { return '已删除第 ' + i + ' 行'; },
    rowCleared: '已清空该行（表格至少保留一行）',
    pasted: function (x) { return '已粘贴 ' + x + ' 行'; },
    pasteOverflow: function (x, n) { return '已粘贴 ' + x + ' 行，超出表格上限 ' + n + ' 行的部分未粘贴'; },
    pasteColsDropped: '，超出表格列数的部分未粘贴',
    draftFound: function (t) { return '发现本机浏览器中尚未保存的内容（' + t + '）。'; },
    draftOlderBase: '注意：服务器上的内容在此之后已被修改，恢复并保存将覆盖该修改。',
    draftRestore: '恢复',
    draftDiscard: '放弃',
    draftConfirmDiscard: '确定放弃本机浏览器中暂存的内容吗？放弃后无法找回。',
    draftRestored: '已恢复本机暂存的内容，请检查后保存。',
    draftRowsLost: function (n) { return '其中超出表格上限 ' + n + ' 行的部分无法恢复，请手动处理。'; }
  };

  // ------------------------------------------------------------------
  // Small helpers
  // ------------------------------------------------------------------

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function fire(el, type) {
    el.dispatchEvent(new Event(type, { bubbles: true }));
  }

  function escapeRegExp(s) {
    return String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }

  function hasOwn(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function closestEl(node, selector) {
    if (!node) return null;
    if (node.nodeType !== 1) node = node.parentElement;
    return node && node.closest ? node.closest(selector) : null;
  }

  function formOf(el) {
    if (!el) return null;
    return el.form || closestEl(el, 'form');
  }

  function isFormControl(el) {
    return !!el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
  }

  function inputType(el) {
    return (el.getAttribute('type') || el.type || '').toLowerCase();
  }

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function formatLocalTime(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) +
      ' ' + pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  // localStorage may be unavailable (privacy mode, disabled storage, quota).
  const storage = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); return true; } catch (e) {
        if (window.console) console.warn('wizard.js: localStorage unavailable', e);
        return false;
      }
    },
    remove: function (key) {
      try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
    },
    keys: function () {
      const out = [];
      try {
        for (let i = 0; i < window.localStorage.length; i++) out.push(window.localStorage.key(i));
      } catch (e) { /* ignore */ }
      return out;
    }
  };

  // Per-form state (dirty flag, autosave timers, local draft timers).
  const formStates = new WeakMap();

  function stateOf(form) {
    let st = formStates.get(form);
    if (!st) {
      st = {
        dirty: false,          // unsaved changes since load / last save
        seq: 0,                // change counter, to detect edits during a save
        timer: null,           // autosave debounce timer
        lastSentAt: 0,         // time the last autosave request started
        inflight: null,        // Promise of the running autosave request
        rerun: false,          // another autosave requested while in flight
        stopped: false,        // autosave disabled after a 409
        submitting: false,     // normal submission in progress
        resubmitting: false,   // re-submitting after waiting for autosave
        lastSubmitter: null,   // fallback for SubmitEvent.submitter
        localTimer: null,      // local draft debounce timer
        localPending: false,   // changes not yet written to localStorage
        localSuspended: false  // restore bar pending: do not overwrite the old draft
      };
      formStates.set(form, st);
    }
    return st;
  }

  // ------------------------------------------------------------------
  // a. Character counters
  // ------------------------------------------------------------------

  // The server's count (report/numbers.count_chars of the text as text.py clean_text stores it):
  // what is never stored (C0 controls but tab and line feed, DEL, bidi controls, zero-width
  // characters) and Python's whitespace (str.isspace: JavaScript's \s less U+FEFF, plus NEL and
  // U+001C–1F) do not count; every other code point counts 1 (an astral character too).
  // The pair is tested in the browser: tests/browser/test_rules_pairs.py.
  const NOT_STORED = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]/g;
  const PY_SPACE = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
  const PY_SPACES = new RegExp('[' + PY_SPACE + ']', 'g');

  function countChars(text) {
    return Array.from(String(text == null ? '' : text).replace(NOT_STORED, '').replace(PY_SPACES, '')).length;
  }

  const counterCache = new WeakMap();

  function counterFor(ta) {
    let c = counterCache.get(ta);
    if (c && c.isConnected) return c;
    c = ta.id ? document.getElementById(ta.id + '-counter') : null;
    if (!c) {
      const next = ta.nextElementSibling;
      if (next && next.classList.contains('char-counter')) c = next;
    }
    if (!c) {
      c = document.createElement('span');
      c.className = 'char-counter';
      if (ta.id) c.id = ta.id + '-counter';
      ta.insertAdjacentElement('afterend', c);
    }
    // Let screen readers announce the count when the textarea gets focus.
    if (c.id) {
      const desc = (ta.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
      if (desc.indexOf(c.id) === -1) {
        desc.push(c.id);
        ta.setAttribute('aria-describedby', desc.join(' '));
      }
    }
    counterCache.set(ta, c);
    return c;
  }

  // A textarea with a counter: an official limit (data-max-chars), or a counter the page
  // put right after it (texts without a limit count too, "已输入 N 字").
  function hasCounter(ta) {
    if (ta.hasAttribute('data-max-chars')) return true;
    const next = ta.nextElementSibling;
    return !!next && next.classList.contains('char-counter');
  }

  function updateCounter(ta) {
    if (!hasCounter(ta)) return;
    const max = parseInt(ta.getAttribute('data-max-chars'), 10);
    const n = countChars(ta.value);
    const c = counterFor(ta);
    if (!(max > 0)) {
      c.textContent = MSG.charCountOnly(n);
      return;
    }
    const over = n > max;
    c.textContent = over ? MSG.charOver(n, max) : MSG.charCount(n, max);
    c.classList.toggle('over', over);
  }

  function updateCountersIn(root) {
    $all('textarea', root).forEach(updateCounter);
  }

  // ------------------------------------------------------------------
  // b. Live growth computation
  // ------------------------------------------------------------------

  // What report/numbers.py computes, by its rules (the pair is tested in the browser:
  // tests/browser/test_rules_pairs.py):
  //   - the parser of numbers.to_decimal (parse_number, signed): full-width forms to ASCII (NFKC),
  //     Python's trim, spaces dropped, U+2212 and full-width minus to "-", a comma only between
  //     groups of three digits, look-alike digits (² ① ١) refused, at most data-max-decimals
  //     decimals and below data-max-magnitude (both rendered on the growth cell from numbers.py);
  //   - growth(): (b − a) / |a| × 100, points(): b − a, exact decimal arithmetic (BigInt),
  //     ROUND_HALF_UP to two decimals, "—" when a value is missing or refused, or the base is 0.
  // Without BigInt (a browser older than 2020) the cells keep what the server rendered.
  const NUMBER_RE = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$/;
  const GROUPED_RE = /^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$/;
  const PY_TRIM = new RegExp('^[' + PY_SPACE + ']+|[' + PY_SPACE + ']+$', 'g');
  const ANY_DIGIT = (function () {
    try { return new RegExp('\\p{N}', 'u'); } catch (e) { return null; }
  }());
  const HAS_BIGINT = typeof BigInt === 'function';

  // numbers.normalise_text and the thousands rule: the text the server parses; null when the
  // server refuses it whatever follows (a look-alike digit, a comma not between groups of three).
  function numberText(raw) {
    let s = String(raw == null ? '' : raw);
    if (ANY_DIGIT && ANY_DIGIT.test(s.replace(/[0-9０-９]/g, ''))) return null;
    if (s.normalize) s = s.normalize('NFKC');
    s = s.replace(PY_TRIM, '').replace(/[ \u3000]/g, '').replace(/[\u2212\uff0d]/g, '-');
    if (s.indexOf(',') !== -1) {
      if (!GROUPED_RE.test(s)) return null;
      s = s.replace(/,/g, '');
    }
    return s;
  }

  // A pasted number as the server would read it (for input[type=number], which takes ASCII only).
  function normalizeNumber(raw) {
    const s = numberText(raw);
    return s === null ? String(raw == null ? '' : raw).trim() : s;
  }

  function bigPow10(n) {
    return BigInt('1' + '0'.repeat(n));
  }

  // numbers.to_decimal: {n (BigInt, signed), scale} with value = n / 10^scale; null when blank
  // or refused.  limits: {decimals, magnitude (BigInt, whole units)}.
  function toDecimal(raw, limits) {
    const s = numberText(raw);
    const m = s === null ? null : NUMBER_RE.exec(s);
    if (!m) return null;
    const body = m[1];
    const dot = body.indexOf('.');
    const whole = dot === -1 ? body : body.slice(0, dot);
    const frac = dot === -1 ? '' : body.slice(dot + 1);
    if (limits.decimals != null && frac.length > limits.decimals) return null;
    const mag = BigInt((whole + frac) || '0');
    if (limits.magnitude != null && mag >= limits.magnitude * bigPow10(frac.length)) return null;
    return { n: s.charAt(0) === '-' ? -mag : mag, scale: frac.length };
  }

  // round(num / den) half away from zero, as a non-negative BigInt; num >= 0, den > 0.
  function roundHalfUp(num, den) {
    return (num * BigInt(2) + den) / (den * BigInt(2));
  }

  function centsText(cents, neg) {
    let s = cents.toString();
    while (s.length < 3) s = '0' + s;
    return (neg && s !== '000' ? '-' : '') + s.slice(0, -2) + '.' + s.slice(-2);
  }

  // mode 'relative' → "12.35" / "-3.10"; mode 'points' → "+1.20个百分点" / "-0.50个百分点" /
  // "0.00个百分点"; "—" when there is nothing to compare.
  function computeGrowth(mode, rawA, rawB, limits) {
    limits = limits || {};
    const a = toDecimal(rawA, limits);
    const b = toDecimal(rawB, limits);
    if (!a || !b) return DASH;
    const scale = Math.max(a.scale, b.scale);
    const A = a.n * bigPow10(scale - a.scale);
    const D = b.n * bigPow10(scale - b.scale) - A;
    const zero = BigInt(0);
    const absD = D < zero ? -D : D;
    if (mode === 'points') {
      const cents = scale <= 2 ? absD * bigPow10(2 - scale) : roundHalfUp(absD, bigPow10(scale - 2));
      if (cents === zero) return '0.00个百分点';
      return (D < zero ? '' : '+') + centsText(cents, D < zero) + '个百分点';
    }
    if (A === zero) return DASH;
    return centsText(roundHalfUp(absD * BigInt(10000), A < zero ? -A : A), D < zero);
  }

  function growthLimits(el) {
    const decimals = parseInt(el.getAttribute('data-max-decimals'), 10);
    const magnitude = el.getAttribute('data-max-magnitude') || '';
    return {
      decimals: decimals >= 0 ? decimals : null,
      magnitude: /^[0-9]+$/.test(magnitude) ? BigInt(magnitude) : null
    };
  }

  function growthMode(el) {
    const mode = el.getAttribute('data-mode') || el.getAttribute('data-growth');
    return mode === 'points' ? 'points' : 'relative';
  }

  function updateGrowth(el) {
    const first = document.getElementById(el.getAttribute('data-first') || '');
    const second = document.getElementById(el.getAttribute('data-second') || '');
    if (!first || !second || !HAS_BIGINT) return;
    const text = computeGrowth(growthMode(el), first.value, second.value, growthLimits(el));
    if (el.textContent !== text) el.textContent = text;
  }

  function updateAllGrowth() {
    $all('[data-growth]').forEach(updateGrowth);
  }

  function updateGrowthFor(input) {
    if (!input.id) return;
    $all('[data-growth]').forEach(function (el) {
      if (el.getAttribute('data-first') === input.id || el.getAttribute('data-second') === input.id) {
        updateGrowth(el);
      }
    });
  }

  // ------------------------------------------------------------------
  // c. Dynamic tables
  // ------------------------------------------------------------------

  // Attributes that carry the row index ("<tablekey>-<index>-...").
  const INDEXED_ATTRS = ['id', 'name', 'for', 'data-first', 'data-second',
    'aria-describedby', 'aria-labelledby', 'aria-controls', 'headers', 'data-remove-row'];

  function getRows(table) {
    return $all('tr[data-row]', table).filter(function (tr) {
      return tr.closest('table') === table;
    });
  }

  function getMax(table) {
    const n = parseInt(table.getAttribute('data-max-rows'), 10);
    return n > 0 ? n : Infinity;
  }

  function tableKey(table) {
    return table.getAttribute('data-table') || '';
  }

  function findTable(key, near) {
    const tables = $all('table[data-table]').filter(function (t) { return tableKey(t) === key; });
    const form = formOf(near);
    return tables.filter(function (t) { return form && t.closest('form') === form; })[0] || tables[0] || null;
  }

  function addButtonsFor(table) {
    const key = tableKey(table);
    return $all('button[data-add-row]').filter(function (b) {
      return b.getAttribute('data-add-row') === key;
    });
  }

  function indexRegExp(key) {
    // "<key>-<digits>" at the start of a token, followed by "-", a space or the end.
    return new RegExp('(^|[^A-Za-z0-9_])(' + escapeRegExp(key) + ')-\\d+(?=-|\\s|$)', 'g');
  }

  function renumberRow(tr, key, index) {
    const re = indexRegExp(key);
    const rewrite = function (value) {
      return value.replace(re, function (m, pre, k) { return pre + k + '-' + index; });
    };
    const nodes = [tr].concat($all('*', tr));
    nodes.forEach(function (node) {
      INDEXED_ATTRS.forEach(function (attr) {
        const v = node.getAttribute(attr);
        if (v) {
          const nv = rewrite(v);
          if (nv !== v) node.setAttribute(attr, nv);
        }
      });
      if (node.tagName === 'BUTTON' && node.hasAttribute('data-remove-row') && node.value) {
        node.value = rewrite(node.value);
      }
    });
    tr.setAttribute('data-row', String(index));
    $all('td.row-no, th.row-no', tr).forEach(function (cell) {
      cell.textContent = String(index + 1);
    });
  }

  function renumberTable(table) {
    const key = tableKey(table);
    getRows(table).forEach(function (tr, i) {
      if (tr.getAttribute('data-row') !== String(i) || tr.querySelector('.row-no')) {
        renumberRow(tr, key, i);
      }
    });
  }

  // Clears every value in a row (used for new rows and for "removing" the last row).
  // Hidden inputs are cleared too (e.g. a database row id), unless data-keep-value.
  function clearRow(tr, resetDefaults) {
    $all('input, select, textarea', tr).forEach(function (el) {
      const t = inputType(el);
      if (el.tagName === 'INPUT') {
        if (/^(button|submit|reset|image)$/.test(t)) return;
        if (el.hasAttribute('data-keep-value')) return;
        if (t === 'checkbox' || t === 'radio') {
          el.checked = false;
          if (resetDefaults) el.defaultChecked = false;
        } else {
          if (resetDefaults) el.removeAttribute('value');
          el.value = '';
        }
      } else if (el.tagName === 'SELECT') {
        Array.prototype.forEach.call(el.options, function (o) {
          if (resetDefaults) o.defaultSelected = false;
          o.selected = false;
        });
        if (!el.multiple && el.options.length) el.selectedIndex = 0;
      } else {
        if (resetDefaults) el.defaultValue = '';
        el.value = '';
      }
    });
    $all('[data-growth]', tr).forEach(function (o) { o.textContent = DASH; });
    $all('.error-message', tr).forEach(function (m) { m.remove(); });
    $all('.has-error', tr).forEach(function (n) { n.classList.remove('has-error'); });
    if (tr.classList.contains('has-error')) tr.classList.remove('has-error');
    $all('[aria-invalid]', tr).forEach(function (n) { n.removeAttribute('aria-invalid'); });
  }

  const tableStatusCache = new WeakMap();

  function tableStatus(table, text) {
    let el = tableStatusCache.get(table);
    if (!el || !el.isConnected) {
      el = document.createElement('div');
      el.className = 'table-status';
      el.setAttribute('role', 'status');
      el.setAttribute('aria-live', 'polite');
      table.insertAdjacentElement('afterend', el);
      tableStatusCache.set(table, el);
    }
    el.textContent = text || '';
  }

  function updateLimit(table) {
    const max = getMax(table);
    const full = getRows(table).length >= max;
    addButtonsFor(table).forEach(function (btn) {
      btn.disabled = full;
      let msg = btn.nextElementSibling;
      if (!msg || !msg.classList.contains('table-limit-msg')) {
        if (!full) return;
        msg = document.createElement('span');
        msg.className = 'table-limit-msg';
        btn.insertAdjacentElement('afterend', msg);
      }
      msg.textContent = full ? MSG.maxRows(max) : '';
      msg.hidden = !full;
    });
  }

  // Appends a cleared copy of the last row. Returns the new row, or null when
  // the table is full or has no row to copy.
  function addRow(table) {
    const rows = getRows(table);
    if (!rows.length || rows.length >= getMax(table)) return null;
    const last = rows[rows.length - 1];
    const clone = last.cloneNode(true);
    clearRow(clone, true);
    last.parentNode.insertBefore(clone, last.nextSibling);
    renumberRow(clone, tableKey(table), rows.length);
    counterCacheReset(clone);
    updateCountersIn(clone);
    return clone;
  }

  function counterCacheReset(root) {
    $all('textarea', root).forEach(function (ta) { counterCache.delete(ta); });
  }

  function removeRow(table, tr) {
    tr.remove();
    renumberTable(table);
  }

  // Adds or removes rows at the end until the table has n rows (1 ≤ n ≤ max).
  function setRowCount(table, n) {
    n = Math.max(1, Math.min(n, getMax(table)));
    let rows = getRows(table);
    while (rows.length < n) {
      if (!addRow(table)) break;
      rows = getRows(table);
    }
    while (rows.length > n) {
      rows.pop().remove();
    }
    renumberTable(table);
    updateLimit(table);
  }

  function dataColumns(tr) {
    const all = $all('input, select, textarea', tr).filter(function (el) {
      if (el.tagName === 'INPUT' && /^(hidden|button|submit|reset|image|file)$/.test(inputType(el))) return false;
      if (el.hidden || el.closest('[hidden]')) return false;
      return true;
    });
    const visible = all.filter(function (el) { return el.getClientRects().length > 0; });
    return visible.length ? visible : all;
  }

  function focusFirstField(tr) {
    const cols = dataColumns(tr);
    if (cols.length) cols[0].focus();
  }

  function onAddRowClick(e, btn) {
    const table = findTable(btn.getAttribute('data-add-row'), btn);
    if (!table || !getRows(table).length) return; // no template row: let the server do it
    e.preventDefault();
    const row = addRow(table);
    updateLimit(table);
    if (!row) return;
    updateAllGrowth();
    tableStatus(table, MSG.rowAdded(getRows(table).length));
    focusFirstField(row);
    const form = formOf(table) || formOf(btn);
    if (form) markChanged(form);
  }

  function onRemoveRowClick(e, btn) {
    const tr = closestEl(btn, 'tr[data-row]');
    const table = tr && closestEl(tr, 'table[data-table]');
    if (!tr || !table) return; // unknown layout: let the server do it
    e.preventDefault();
    const form = formOf(table) || formOf(btn);
    const rows = getRows(table);
    const idx = rows.indexOf(tr);
    if (rows.length <= 1) {
      clearRow(tr, false);
      updateCountersIn(tr);
      tableStatus(table, MSG.rowCleared);
      focusFirstField(tr);
    } else {
      removeRow(table, tr);
      const remaining = getRows(table);
      tableStatus(table, MSG.rowRemoved(idx + 1));
      const target = remaining[Math.min(idx, remaining.length - 1)];
      if (target) focusFirstField(target);
    }
    updateLimit(table);
    updateAllGrowth();
    if (form) markChanged(form);
  }

  // Pressing Enter in a text field submits the form with its *first* submit
  // button. If that is an add/remove-row button, Enter would silently add or
  // delete a row, so suppress it (templates should put a save button first).
  function firstSubmitButton(form) {
    const els = form.elements;
    for (let i = 0; i < els.length; i++) {
      const el = els[i];
      if ((el.tagName === 'BUTTON' && el.type === 'submit') ||
          (el.tagName === 'INPUT' && (el.type === 'submit' || el.type === 'image'))) {
        return el;
      }
    }
    return null;
  }

  function onKeydown(e) {
    if (e.key !== 'Enter' || e.defaultPrevented || e.isComposing) return;
    const el = e.target;
    if (!el || el.tagName !== 'INPUT') return;
    if (/^(button|submit|reset|image|checkbox|radio|file)$/.test(inputType(el))) return;
    const form = el.form;
    if (!form) return;
    const def = firstSubmitButton(form);
    if (def && (def.hasAttribute('data-add-row') || def.hasAttribute('data-remove-row'))) {
      e.preventDefault();
    }
  }

  // ------------------------------------------------------------------
  // d. Paste from Excel
  // ------------------------------------------------------------------

  // Parses tab-separated clipboard text into rows of cells. Rows end at
  // \r\n, \n or \r; one trailing line break is ignored. Cells that Excel
  // quoted (because they contain a line break, tab or quote) are unquoted;
  // a lone leading quote without a proper closing quote is kept literally.
  function parseTsv(text) {
    const rows = [];
    const n = text.length;
    let row = [];
    let i = 0;
    if (n === 0) return rows;
    for (;;) {
      let field = null;
      if (text.charAt(i) === '"') {
        let j = i + 1;
        let buf = '';
        let closed = false;
        while (j < n) {
          const ch = text.charAt(j);
          if (ch === '"') {
            if (text.charAt(j + 1) === '"') { buf += '"'; j += 2; continue; }
            closed = true;
            j++;
            break;
          }
          buf += ch;
          j++;
        }
        if (closed && (j === n || /[\t\r\n]/.test(text.charAt(j)))) {
          field = buf;
          i = j;
        }
      }
      if (field === null) {
        let j = i;
        while (j < n && !/[\t\r\n]/.test(text.charAt(j))) j++;
        field = text.slice(i, j);
        i = j;
      }
      row.push(field);
      if (i >= n) { rows.push(row); break; }
      const ch = text.charAt(i);
      if (ch === '\t') { i++; continue; }
      i += (ch === '\r' && text.charAt(i + 1) === '\n') ? 2 : 1;
      rows.push(row);
      row = [];
      if (i >= n) break; // trailing line break: no extra empty row
    }
    return rows;
  }

  const TRUTHY = /^(1|y|yes|true|on|是|有|√|✓|✔|x)$/i;

  // Sets one field from a pasted cell. Returns true when the value changed.
  function setFieldFromText(el, raw) {
    const t = inputType(el);
    const v = el.tagName === 'TEXTAREA' ? raw.replace(/^\s+|\s+$/g, '') : raw.trim();
    if (el.tagName === 'SELECT') {
      const opt = Array.prototype.filter.call(el.options, function (o) {
        return o.value === v || o.text.trim() === v;
      })[0];
      if (!opt || opt.selected) return false;
      if (el.multiple) Array.prototype.forEach.call(el.options, function (o) { o.selected = false; });
      opt.selected = true;
      return true;
    }
    if (t === 'checkbox') {
      const c = TRUTHY.test(v);
      if (el.checked === c) return false;
      el.checked = c;
      return true;
    }
    if (t === 'radio') {
      if (el.value !== v || el.checked) return false;
      el.checked = true;
      return true;
    }
    const value = t === 'number' ? normalizeNumber(v) : v;
    if (el.value === value) return false;
    el.value = value;
    return true;
  }

  function onPaste(e) {
    const el = e.target;
    if (!isFormControl(el)) return;
    const table = closestEl(el, 'table[data-table]');
    const tr = closestEl(el, 'tr[data-row]');
    if (!table || !tr || tr.closest('table') !== table) return;
    const cd = e.clipboardData || window.clipboardData;
    if (!cd) return;
    const text = cd.getData('text/plain') || cd.getData('text') || '';
    if (!/[\t\r\n]/.test(text)) return;
    // Multi-line text pasted into a narrative textarea is ordinary text.
    if (el.tagName === 'TEXTAREA' && text.indexOf('\t') === -1) return;
    e.preventDefault();
    pasteGrid(table, tr, el, parseTsv(text));
  }

  function pasteGrid(table, startRow, el, data) {
    if (!data.length) return;
    const max = getMax(table);
    let rows = getRows(table);
    const r0 = rows.indexOf(startRow);
    const c0 = Math.max(0, dataColumns(startRow).indexOf(el));
    if (r0 < 0) return;
    const wanted = Math.min(r0 + data.length, max);
    while (rows.length < wanted) {
      if (!addRow(table)) break;
      rows = getRows(table);
    }
    updateLimit(table);
    const fit = Math.min(data.length, rows.length - r0);
    const touched = [];
    let colsDropped = false;
    for (let i = 0; i < fit; i++) {
      const cols = dataColumns(rows[r0 + i]);
      data[i].forEach(function (cell, j) {
        const target = cols[c0 + j];
        if (!target) { if (cell !== '') colsDropped = true; return; }
        if (target.disabled || target.readOnly) return;
        if (setFieldFromText(target, cell)) touched.push(target);
      });
    }
    // Let counters, growth cells, dirty-state and autosave react.
    touched.forEach(function (t) { fire(t, 'input'); fire(t, 'change'); });
    updateAllGrowth();
    let msg = fit < data.length ? MSG.pasteOverflow(fit, max) : MSG.pasted(fit);
    if (colsDropped) msg += MSG.pasteColsDropped;
    tableStatus(table, msg);
    const form = formOf(table);
    if (form && (fit > 0)) markChanged(form);
  }

  // ------------------------------------------------------------------
  // e. Dirty state, f. autosave, g. local draft — shared change handling
  // ------------------------------------------------------------------

  function isTracked(form) {
    return form.hasAttribute('data-dirty-warn') || form.hasAttribute('data-autosave-url') ||
      form.hasAttribute('data-local-key');
  }

  function markChanged(form) {
    if (!form || !isTracked(form)) return;
    const st = stateOf(form);
    st.dirty = true;
    st.seq += 1;
    if (form.hasAttribute('data-local-key')) scheduleLocal(form);
    if (form.hasAttribute('data-autosave-url')) scheduleAutosave(form);
  }

  function onFieldChange(e) {
    const el = e.target;
    if (!isFormControl(el)) return;
    if (e.type === 'input' || e.type === 'change') {
      if (el.tagName === 'TEXTAREA') updateCounter(el);
      if (el.tagName === 'INPUT' && inputType(el) === 'file') showChosenFiles(el);
      updateGrowthFor(el);
    }
    if (!el.name || NOT_SAVED_NAMES.indexOf(el.name) !== -1) return;
    if (inputType(el) === 'file') { checkUploadSizes(formOf(el)); return; }
    const form = formOf(el);
    if (form) markChanged(form);
  }

  function anyDirty() {
    return $all('form[data-dirty-warn]').some(function (form) {
      const st = formStates.get(form);
      return !!st && st.dirty && !st.submitting;
    });
  }

  function onBeforeUnload(e) {
    flushAllLocal();
    if (anyDirty()) {
      e.preventDefault();
      e.returnValue = '';
      return '';
    }
    return undefined;
  }

  // ------------------------------------------------------------------
  // g. Local draft backup (localStorage)
  // ------------------------------------------------------------------

  function draftKey(form) {
    return DRAFT_PREFIX + form.getAttribute('data-local-key');
  }

  function isDataField(el) {
    if (!el.name || el.disabled || NOT_SAVED_NAMES.indexOf(el.name) !== -1) return false;
    if (el.tagName === 'BUTTON' || el.tagName === 'FIELDSET' || el.tagName === 'OUTPUT' || el.tagName === 'OBJECT') return false;
    return !/^(button|submit|reset|image|file|password)$/.test(inputType(el));
  }

  // Serialises named fields as {name: [values]} in document order. Every
  // present name gets a key (an empty array when no checkbox is ticked).
  function serializeForm(form) {
    const data = Object.create(null);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!isDataField(el)) return;
      const list = data[el.name] || (data[el.name] = []);
      const t = inputType(el);
      if (t === 'checkbox' || t === 'radio') {
        if (el.checked) list.push(el.value);
      } else if (el.tagName === 'SELECT') {
        Array.prototype.forEach.call(el.options, function (o) { if (o.selected) list.push(o.value); });
      } else {
        list.push(el.value);
      }
    });
    return data;
  }

  function sameFields(a, b) {
    const names = Object.keys(a).concat(Object.keys(b));
    for (let i = 0; i < names.length; i++) {
      const x = (hasOwn(a, names[i]) ? a[names[i]] : []).join('\u0000');
      const y = (hasOwn(b, names[i]) ? b[names[i]] : []).join('\u0000');
      if (x !== y) return false;
    }
    return true;
  }

  function versionValue(form) {
    const v = form.querySelector('input[name="version"]');
    return v ? v.value : null;
  }

  function readDraft(form) {
    const raw = storage.get(draftKey(form));
    if (!raw) return null;
    try {
      const d = JSON.parse(raw);
      return d && d.fields && typeof d.savedAt === 'number' ? d : null;
    } catch (e) {
      return null;
    }
  }

  function writeLocal(form) {
    const st = stateOf(form);
    if (st.localTimer) { clearTimeout(st.localTimer); st.localTimer = null; }
    if (st.localSuspended) return; // keep the old draft until the user decides
    st.localPending = false;
    storage.set(draftKey(form), JSON.stringify({
      v: 1,
      savedAt: Date.now(),
      version: versionValue(form),
      path: window.location.pathname,
      tab: TAB_ID,
      fields: serializeForm(form)
    }));
  }

  // Each tab has an id (sessionStorage) and, while it shows a step, a heartbeat in localStorage:
  // a copy written by another tab that is still open is that tab's business, never offered here
  // (issue #23 item 6).  A closed tab's copy (a login that expired, a crash) is offered as before.
  const TAB_KEY = 'wizard-tab-id';
  const ALIVE_PREFIX = 'wizard-tab-alive:';
  const ALIVE_EVERY_MS = 15000;
  const TAB_ID = (function () {
    try {
      let id = window.sessionStorage.getItem(TAB_KEY);
      if (!id) {
        id = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
        window.sessionStorage.setItem(TAB_KEY, id);
      }
      return id;
    } catch (e) { return ''; }
  }());

  function beat() { if (TAB_ID) storage.set(ALIVE_PREFIX + TAB_ID, String(Date.now())); }

  function startHeartbeat() {
    if (!TAB_ID || !document.querySelector('form[data-local-key]')) return;
    beat();
    setInterval(beat, ALIVE_EVERY_MS);
    window.addEventListener('pagehide', function () { storage.remove(ALIVE_PREFIX + TAB_ID); });
    window.addEventListener('pageshow', beat);
  }

  function otherOpenTab(draft) {
    if (!draft.tab || !TAB_ID || draft.tab === TAB_ID) return false;
    const seen = Number(storage.get(ALIVE_PREFIX + draft.tab) || 0);
    return Date.now() - seen < ALIVE_EVERY_MS * 3;
  }

  function scheduleLocal(form) {
    const st = stateOf(form);
    st.localPending = true;
    if (st.localTimer) clearTimeout(st.localTimer);
    st.localTimer = setTimeout(function () { writeLocal(form); }, LOCAL_DEBOUNCE_MS);
  }

  function flushLocal(form) {
    const st = formStates.get(form);
    if (st && st.localPending) writeLocal(form);
  }

  function flushAllLocal() {
    $all('form[data-local-key]').forEach(flushLocal);
  }

  function clearLocal(form) {
    const st = stateOf(form);
    if (st.localTimer) { clearTimeout(st.localTimer); st.localTimer = null; }
    st.localPending = false;
    if (!st.localSuspended) storage.remove(draftKey(form));
  }

  // [data-saved-ok] is rendered by the server after a successful normal save.
  // Its value may list the saved local keys (space-separated), needed when the
  // save redirects to a different step; empty means "the forms on this page".
  function clearSavedDrafts() {
    $all('[data-saved-ok]').forEach(function (el) {
      const keys = (el.getAttribute('data-saved-ok') || '').split(/\s+/).filter(Boolean);
      if (keys.length) {
        keys.forEach(function (k) { storage.remove(DRAFT_PREFIX + k); });
      } else {
        $all('form[data-local-key]').forEach(function (f) { storage.remove(draftKey(f)); });
      }
    });
    // Optional: rendered only after an explicit logout on shared computers.
    if (document.querySelector('[data-clear-local-drafts]')) {
      storage.keys().forEach(function (k) {
        if (k && k.indexOf(DRAFT_PREFIX) === 0) storage.remove(k);
      });
    }
  }

  function offerDrafts() {
    $all('form[data-local-key]').forEach(function (form) {
      const draft = readDraft(form);
      if (!draft || otherOpenTab(draft)) return;
      if (sameFields(draft.fields, serializeForm(form))) return;
      const serverTs = Date.parse(form.getAttribute('data-server-saved-at') || '');
      const newer = isNaN(serverTs) || draft.savedAt > serverTs;
      const current = versionValue(form);
      const sameBase = draft.version != null && current != null && String(draft.version) === String(current);
      if (!newer && !sameBase) return;
      showDraftBar(form, draft, !sameBase && draft.version != null && current != null);
    });
  }

  function showDraftBar(form, draft, olderBase) {
    const st = stateOf(form);
    st.localSuspended = true;
    const bar = document.createElement('div');
    bar.className = 'local-draft-bar';
    bar.setAttribute('role', 'alert');
    const text = document.createElement('span');
    text.textContent = MSG.draftFound(formatLocalTime(draft.savedAt)) + (olderBase ? MSG.draftOlderBase : '');
    const restore = document.createElement('button');
    restore.type = 'button';
    restore.className = 'btn btn-small btn-primary';
    restore.textContent = MSG.draftRestore;
    const discard = document.createElement('button');
    discard.type = 'button';
    discard.className = 'btn btn-small btn-secondary';
    discard.textContent = MSG.draftDiscard;
    bar.appendChild(text);
    bar.appendChild(document.createTextNode(' '));
    bar.appendChild(restore);
    bar.appendChild(document.createTextNode(' '));
    bar.appendChild(discard);
    form.insertBefore(bar, form.firstChild);

    restore.addEventListener('click', function () {
      const lost = restoreDraft(form, draft);
      bar.className = 'local-draft-bar restored';
      bar.setAttribute('role', 'status');
      bar.textContent = MSG.draftRestored + (lost ? MSG.draftRowsLost(lost) : '');
    });
    discard.addEventListener('click', function () {
      if (!window.confirm(MSG.draftConfirmDiscard)) return;
      storage.remove(draftKey(form));
      st.localSuspended = false;
      bar.remove();
      if (st.localPending) writeLocal(form); // back up edits made meanwhile
    });
  }

  // Fills the form from a draft, adding/removing table rows as needed.
  // Returns the number of table rows that could not be restored (over max).
  function restoreDraft(form, draft) {
    const st = stateOf(form);
    st.localSuspended = false;
    const fields = draft.fields;
    let lost = 0;
    $all('table[data-table]', form).forEach(function (table) {
      const re = new RegExp('^' + escapeRegExp(tableKey(table)) + '-(\\d+)-');
      let maxIdx = -1;
      Object.keys(fields).forEach(function (name) {
        const m = re.exec(name);
        if (m) maxIdx = Math.max(maxIdx, parseInt(m[1], 10));
      });
      if (maxIdx < 0) return;
      const max = getMax(table);
      if (maxIdx + 1 > max) lost += maxIdx + 1 - max;
      setRowCount(table, maxIdx + 1);
      counterCacheReset(table);
    });
    const seen = Object.create(null);
    const changed = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!isDataField(el) || !hasOwn(fields, el.name)) return;
      const values = fields[el.name] || [];
      const t = inputType(el);
      if (t === 'checkbox' || t === 'radio') {
        const c = values.indexOf(el.value) !== -1;
        if (el.checked !== c) { el.checked = c; changed.push(el); }
      } else if (el.tagName === 'SELECT') {
        let any = false;
        Array.prototype.forEach.call(el.options, function (o) {
          const sel = values.indexOf(o.value) !== -1 && (el.multiple || !any);
          if (sel) any = true;
          if (o.selected !== sel) { o.selected = sel; changed.push(el); }
        });
        if (!any && !el.multiple && el.options.length) el.selectedIndex = 0;
      } else {
        const i = seen[el.name] || 0;
        seen[el.name] = i + 1;
        const v = i < values.length ? String(values[i]) : '';
        if (el.value !== v) { el.value = v; changed.push(el); }
      }
    });
    changed.filter(function (el, i) { return changed.indexOf(el) === i; }).forEach(function (el) {
      fire(el, 'input');
      fire(el, 'change');
    });
    updateCountersIn(form);
    updateAllGrowth();
    markChanged(form);
    return lost;
  }

  // ------------------------------------------------------------------
  // f. Autosave
  // ------------------------------------------------------------------

  function statusEl(form) {
    let el = form.querySelector('.autosave-status');
    if (!el) {
      el = document.createElement('p');
      el.className = 'autosave-status';
      el.setAttribute('role', 'status');
      el.setAttribute('aria-live', 'polite');
      form.insertBefore(el, form.firstChild);
    }
    return el;
  }

  function setStatus(form, text, isError) {
    const el = statusEl(form);
    el.textContent = text;
    el.classList.toggle('error', !!isError);
    el.classList.remove('expired');
  }

  function scheduleAutosave(form) {
    const st = stateOf(form);
    if (st.stopped || st.submitting) return;
    if (st.timer) clearTimeout(st.timer);
    const delay = Math.max(AUTOSAVE_DEBOUNCE_MS, st.lastSentAt + AUTOSAVE_MIN_INTERVAL_MS - Date.now());
    st.timer = setTimeout(function () { runAutosave(form); }, delay);
  }

  function readJson(res) {
    const ct = (res.headers.get('Content-Type') || '').toLowerCase();
    if (ct.indexOf('json') === -1) return Promise.resolve(null);
    return res.json().catch(function () { return null; });
  }

  // Autosave sends only the fields changed since the last save (issue #25): the form's values
  // grouped by field key (a name's part before the first "-": a table's rows, an indicator's
  // years), compared with the values the server holds (the page as loaded, then each autosave's).
  // The names in AUTOSAVE_ALWAYS (and the conflict page's keep-<key> choices) go with every save;
  // "fields" names the keys sent, so the server validates and stores those alone.
  const AUTOSAVE_ALWAYS = ['csrf_token', 'version', 'loaded', 'confirm_carried'];
  const savedGroups = new WeakMap();

  function fieldKey(name) {
    const i = name.indexOf('-');
    return i === -1 ? name : name.slice(0, i);
  }

  function alwaysSent(name) {
    return AUTOSAVE_ALWAYS.indexOf(name) !== -1 || name.indexOf('keep-') === 0;
  }

  function fieldGroups(form) {
    const groups = Object.create(null);
    const data = serializeForm(form);
    Object.keys(data).forEach(function (name) {
      if (alwaysSent(name)) return;
      const key = fieldKey(name);
      groups[key] = (groups[key] || '') + name + '\u0001' + data[name].join('\u0000') + '\u0002';
    });
    return groups;
  }

  function rememberSaved(form) {
    savedGroups.set(form, fieldGroups(form));
  }

  function changedBody(form) {
    const groups = fieldGroups(form);
    const saved = savedGroups.get(form) || Object.create(null);
    const changed = Object.keys(groups).filter(function (k) { return groups[k] !== saved[k]; });
    const body = new FormData();
    new FormData(form).forEach(function (value, name) {
      // Files are uploaded by the form's own buttons, never by autosave.
      if (typeof value !== 'string') return;
      if (alwaysSent(name) || changed.indexOf(fieldKey(name)) !== -1) body.append(name, value);
    });
    body.append('fields', changed.join(','));
    return { body: body, changed: changed, groups: groups };
  }

  function markSent(form, sent) {
    const saved = savedGroups.get(form) || Object.create(null);
    sent.changed.forEach(function (k) { saved[k] = sent.groups[k]; });
    savedGroups.set(form, saved);
  }

  function runAutosave(form) {
    const st = stateOf(form);
    st.timer = null;
    if (st.stopped || st.submitting || !st.dirty) return;
    if (st.inflight) { st.rerun = true; return; }
    if (typeof window.fetch !== 'function') return;
    const url = form.getAttribute('data-autosave-url');
    const sentSeq = st.seq;
    st.lastSentAt = Date.now();
    const sent = changedBody(form);
    const body = sent.body;
    const headers = { 'X-Requested-With': 'fetch', 'Accept': 'application/json' };
    const token = form.querySelector('input[name="csrf_token"]');
    if (token && token.value) headers['X-CSRFToken'] = token.value;
    let controller = null;
    let abortTimer = null;
    if (typeof window.AbortController === 'function') {
      controller = new AbortController();
      abortTimer = setTimeout(function () { controller.abort(); }, AUTOSAVE_TIMEOUT_MS);
    }
    setStatus(form, MSG.saving, false);
    st.inflight = window.fetch(url, {
      method: 'POST',
      body: body,
      headers: headers,
      credentials: 'same-origin',
      redirect: 'follow',
      cache: 'no-store',
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      return readJson(res).then(function (data) { handleAutosaveResponse(form, res, data, sentSeq, sent); });
    }).catch(function () {
      autosaveExpired(form);
    }).then(function () {
      if (abortTimer) clearTimeout(abortTimer);
      st.inflight = null;
      if (st.rerun || (st.dirty && st.seq !== sentSeq)) {
        st.rerun = false;
        scheduleAutosave(form);
      }
    });
  }

  function loginUrl(path) {
    return '/login?next=' + encodeURIComponent(path);
  }

  function loginLink(text, path) {
    const a = document.createElement('a');
    a.href = loginUrl(path);
    a.className = 'login-back';
    a.textContent = text;
    return a;
  }

  function autosaveExpired(form) {
    if (form.hasAttribute('data-local-key')) writeLocal(form); // make sure the local copy is current
    setStatus(form, MSG.expired, true);
    const el = statusEl(form);
    el.classList.add('expired');  // fixed at the top of the form while typing (app.css)
    el.appendChild(document.createTextNode(' '));
    const a = loginLink(MSG.loginBack, window.location.pathname);
    // the text is kept in this browser: leaving for the login page needs no "unsaved" prompt
    a.addEventListener('click', function () { writeLocal(form); stateOf(form).dirty = false; });
    el.appendChild(a);
  }

  function handleAutosaveResponse(form, res, data, sentSeq, sent) {
    const st = stateOf(form);
    const err = data && typeof data.error === 'string' && data.error ? data.error : '';
    if (res.status === 401 || res.redirected) {
      autosaveExpired(form);
    } else if (res.ok && data && data.ok === true) {
      const v = form.querySelector('input[name="version"]');
      if (v && data.version != null) v.value = String(data.version);
      if (sent) markSent(form, sent);
      // a refused value is kept on the server as typed (issue #23 item 3): saved, with a warning
      if (data.warning) setStatus(form, MSG.saved(data.saved_at || '') + ' ' + data.warning, true);
      else setStatus(form, MSG.saved(data.saved_at || ''), false);
      if (st.seq === sentSeq) {
        st.dirty = false;
        if (form.hasAttribute('data-local-key')) clearLocal(form);
      }
    } else if (res.status === 409) {
      st.stopped = true;
      if (st.timer) { clearTimeout(st.timer); st.timer = null; }
      setStatus(form, err || MSG.conflict, true);
      if (form.hasAttribute('data-local-key')) writeLocal(form);
    } else if (!data) {
      // HTML instead of JSON: a login page, a CSRF error page or a proxy error.
      if (res.status >= 500) setStatus(form, MSG.serverError(res.status), true);
      else autosaveExpired(form);
    } else if (res.status === 400 || res.status === 422) {
      setStatus(form, err || MSG.invalid, true);
    } else {
      setStatus(form, err || MSG.otherError(res.status), true);
    }
  }

  // ------------------------------------------------------------------
  // Form submission
  // ------------------------------------------------------------------

  function resubmit(form, submitter) {
    const st = stateOf(form);
    st.submitting = false;
    st.resubmitting = true;
    try {
      if (typeof form.requestSubmit === 'function') {
        if (submitter && submitter.form === form) form.requestSubmit(submitter);
        else form.requestSubmit();
        return;
      }
      // Old browsers: form.submit() fires no submit event and drops the submitter.
      if (submitter && submitter.name) {
        const h = document.createElement('input');
        h.type = 'hidden';
        h.name = submitter.name;
        h.value = submitter.value;
        form.appendChild(h);
      }
      st.submitting = true;
      st.dirty = false;
      flushLocal(form);
      form.submit();
    } finally {
      st.resubmitting = false;
    }
  }

  // ------------------------------------------------------------------
  // j. Upload size check: refuse oversized files before they are sent, so the
  //    server never has to answer 413 and nothing typed is lost.
  // ------------------------------------------------------------------

  // evidence/names.file_size: bytes below 1 KB, else KB or MB with one decimal (Python's format
  // rounds a tie to even: 1280 bytes is 1.2 KB), a trailing .0 dropped.  Tested in pairs with the
  // server's: tests/browser/test_rules_pairs.py.
  function sizeText(n) {
    if (n < 1024) return n + ' 字节';
    const unit = n >= 1048576 ? 1048576 : 1024;
    const tenths = n * 10 / unit;  // exact: n / 2^k times 10
    let r = Math.floor(tenths);
    const rest = tenths - r;
    if (rest > 0.5 || (rest === 0.5 && r % 2 === 1)) r += 1;
    return (r % 10 === 0 ? String(r / 10) : (r / 10).toFixed(1)) + (unit === 1024 ? ' KB' : ' MB');
  }

  function checkUploadSizes(form) {
    if (!form) return '';
    let total = 0;
    let limit = 0;
    const problems = [];
    Array.prototype.forEach.call(form.querySelectorAll('input[type="file"][data-max-file-bytes]'), function (el) {
      const maxFile = Number(el.getAttribute('data-max-file-bytes')) || 0;
      limit = Number(el.getAttribute('data-max-request-bytes')) || limit;
      Array.prototype.forEach.call(el.files || [], function (f) {
        total += f.size;
        if (maxFile && f.size > maxFile) {
          problems.push('“' + f.name + '”大小为 ' + sizeText(f.size) + '，超过单个文件 ' + sizeText(maxFile) + ' 的上限');
        }
      });
    });
    if (limit && total > limit) {
      problems.push('所选文件合计 ' + sizeText(total) + '，超过一次上传 ' + sizeText(limit) + ' 的上限，请分几次上传');
    }
    const msg = problems.length ? problems.join('；') + '。请重新选择文件。' : '';
    let box = form.querySelector('.upload-size-error');
    if (msg && !box) {
      box = document.createElement('div');
      box.className = 'error-summary upload-size-error';
      box.setAttribute('role', 'alert');
      form.insertBefore(box, form.firstChild);
    }
    if (box) { box.textContent = msg; box.hidden = !msg; }
    return msg;
  }

  function onSubmit(e) {
    const form = e.target;
    if (!form || form.tagName !== 'FORM' || e.defaultPrevented) return;
    if (checkUploadSizes(form)) {
      e.preventDefault();
      form.querySelector('.upload-size-error').scrollIntoView({ block: 'center' });
      return;
    }
    const st = stateOf(form);
    const msg = form.getAttribute('data-confirm');
    if (msg && !st.resubmitting && !window.confirm(msg)) {
      e.preventDefault();
      return;
    }
    if (!isTracked(form)) return;
    if (st.timer) { clearTimeout(st.timer); st.timer = null; }
    if (st.inflight) {
      // Wait for the running autosave so that the submitted "version" is current.
      e.preventDefault();
      const submitter = e.submitter || st.lastSubmitter;
      st.submitting = true;
      setStatus(form, MSG.waitAutosave, false);
      st.inflight.then(function () { resubmit(form, submitter); });
      return;
    }
    st.submitting = true;
    flushLocal(form);  // survives a session timeout on the server side
    markSubmitted(form);
    st.dirty = false;
  }

  // ------------------------------------------------------------------
  // l. A normal save that did not reach the server (issue #23 item 5): the page that answers
  //    instead of the step (a 400 "页面已过期", the login page) says that the text is kept in
  //    this browser and offers a login link that returns to the step, where the copy is offered.
  // ------------------------------------------------------------------

  const SUBMITTED_KEY = 'wizard-submitted';
  const SUBMITTED_MAX_AGE_MS = 30 * 60 * 1000;

  function markSubmitted(form) {
    if (!form.hasAttribute('data-local-key')) return;
    writeLocal(form);
    const h1 = document.querySelector('h1');
    try {
      window.sessionStorage.setItem(SUBMITTED_KEY, JSON.stringify({
        key: draftKey(form), path: window.location.pathname, at: Date.now(),
        title: h1 ? h1.textContent.trim() : document.title
      }));
    } catch (e) { /* storage unavailable: nothing to say later */ }
  }

  function sayKeptAfterSubmit() {
    let mark = null;
    try { mark = JSON.parse(window.sessionStorage.getItem(SUBMITTED_KEY) || 'null'); } catch (e) { mark = null; }
    if (!mark) return;
    // the step answered (saved, or shown again with its errors): nothing to say
    if (document.querySelector('form[data-local-key], [data-saved-ok]') || Date.now() - mark.at > SUBMITTED_MAX_AGE_MS ||
        !storage.get(mark.key)) {
      try { window.sessionStorage.removeItem(SUBMITTED_KEY); } catch (e) { /* ignore */ }
      return;
    }
    const main = document.getElementById('main') || document.body;
    const box = document.createElement('div');
    box.className = 'flash flash-warning kept-in-browser';
    box.setAttribute('role', 'alert');
    box.appendChild(document.createTextNode(MSG.keptAfterSubmit(mark.title) + ' '));
    box.appendChild(loginLink(MSG.loginBackTo, mark.path));
    main.insertBefore(box, main.firstChild);
  }

  // ------------------------------------------------------------------
  // k. File chooser: the native control says "Choose Files / No file chosen" in the browser's
  //    language.  The input stays in the page (visually hidden, still focusable and announced
  //    by its own label); a 选择文件 label opens it and the chosen names show beside it.
  //    Without this file the native control works as before.
  // ------------------------------------------------------------------

  function chosenBox(input) {
    return input.parentNode.querySelector('.file-chosen[data-for="' + input.id + '"]');
  }

  function enhanceFileInput(input) {
    if (!input.id || input.hasAttribute('data-file-enhanced')) return;
    input.setAttribute('data-file-enhanced', '');
    input.classList.add('file-input-hidden');
    const pick = document.createElement('label');
    pick.className = 'btn btn-small btn-secondary file-pick';
    pick.setAttribute('for', input.id);
    pick.setAttribute('aria-hidden', 'true');  // the input itself is focused and announced
    pick.textContent = MSG.chooseFile;
    const chosen = document.createElement('span');
    chosen.className = 'file-chosen';
    chosen.setAttribute('data-for', input.id);
    chosen.setAttribute('aria-live', 'polite');
    input.insertAdjacentElement('afterend', pick);
    pick.insertAdjacentElement('afterend', chosen);
    showChosenFiles(input);
  }

  function showChosenFiles(input) {
    const box = chosenBox(input);
    if (!box) return;
    const names = Array.prototype.map.call(input.files || [], function (f) { return f.name; });
    box.textContent = names.length ? MSG.filesChosen(names) : MSG.noFileChosen;
    box.classList.toggle('has-files', names.length > 0);
    box.classList.remove('file-missing');
  }

  // 上传 pressed with nothing chosen in its box: say so beside the box instead of sending.
  function uploadWithoutFile(button) {
    const area = closestEl(button, '.evidence-upload');
    const input = area && area.querySelector('input[type="file"]');
    if (!input || (input.files && input.files.length)) return false;
    const box = chosenBox(input);
    if (box) {
      box.textContent = MSG.noFileToUpload;
      box.classList.add('file-missing');
    }
    input.focus();
    return true;
  }

  // ------------------------------------------------------------------
  // m. Evidence without a page reload (issue #23 item 2): a slot's 上传 sends the form (the typed
  //    values are saved with the file, as without JavaScript) and puts the slot's new box, the step
  //    list and the missing-files note of the answer in place; the many-files form gets one picker
  //    that fills its rows, each file's indicator matched by name or kept as preselected.
  // ------------------------------------------------------------------

  function replaceFrom(doc, selector, root) {
    const fresh = doc.querySelector(selector);
    const old = (root || document).querySelector(selector);
    if (old && fresh) old.replaceWith(document.importNode(fresh, true));
    else if (old && !fresh) old.remove();
    return fresh ? document.querySelector(selector) : null;
  }

  function uploadInPlace(button) {
    const form = button.form;
    const box = closestEl(button, '.evidence-box');
    if (!form || !box || !box.id || typeof window.fetch !== 'function' || typeof DOMParser !== 'function' ||
        !form.hasAttribute('data-autosave-url')) return false;
    const st = stateOf(form);
    if (st.inflight || st.submitting || checkUploadSizes(form)) return false;
    const body = new FormData(form);
    Array.prototype.forEach.call(form.querySelectorAll('input[type="file"][name]'), function (el) {
      if (!box.contains(el)) body.delete(el.name);
    });
    body.set('action', 'upload');
    const url = form.getAttribute('action') || window.location.pathname;  // form.action: the buttons named "action"
    let lastUrl = url;
    button.disabled = true;
    setStatus(form, MSG.uploading, false);
    window.fetch(url, { method: 'POST', body: body, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (/\/login/.test(res.url) || res.status === 400 || res.status === 401) { autosaveExpired(form); return null; }
        if (!res.ok || res.url.indexOf('saved=1') === -1) { window.location.assign(url); return null; }
        lastUrl = res.url.split('#')[0];
        return res.text();
      })
      .then(function (html) {
        if (html == null) return;
        const doc = new DOMParser().parseFromString(html, 'text/html');
        // the address a reload would show, as after an upload without JavaScript (no reload here)
        if (window.history && window.history.replaceState) window.history.replaceState(null, '', lastUrl + '#' + box.id);
        const fresh = replaceFrom(doc, '#' + box.id);
        replaceFrom(doc, '.wizard-steps');
        const note = doc.querySelector('#missing-files');
        if (!note) replaceFrom(doc, '#missing-files');
        else if (document.querySelector('#missing-files')) replaceFrom(doc, '#missing-files');
        const v = doc.querySelector('input[name="version"]');
        const mine = form.querySelector('input[name="version"]');
        if (v && mine) mine.value = v.value;
        st.dirty = false;  // the whole form was saved with the file
        clearLocal(form);
        setStatus(form, MSG.uploaded, false);
        if (fresh) {
          fresh.querySelectorAll('input[type="file"]').forEach(enhanceFileInput);
          const msg = fresh.querySelector('.flash') || fresh;
          msg.setAttribute('tabindex', '-1');
          msg.focus();
        }
      })
      .catch(function () { autosaveExpired(form); })
      .then(function () { button.disabled = false; });
    return true;
  }

  function slotMatch(select, fileName) {
    const base = fileName.replace(/\.[^.]*$/, '');
    let found = '';
    Array.prototype.forEach.call(select.options, function (o) {
      const name = (o.getAttribute('data-name') || '').replace(/（[^）]*）/g, '').replace(/(数量|比例|情况)$/, '');
      if (!found && name.length >= 2 && base.indexOf(name) !== -1) found = o.value;
    });
    return found;
  }

  function fillBulkRows(fieldset, files) {
    const rows = fieldset.querySelectorAll('[data-bulk-row]');
    Array.prototype.forEach.call(files, function (file, i) {
      if (i >= rows.length) return;
      const input = rows[i].querySelector('input[type="file"]');
      const select = rows[i].querySelector('select');
      const dt = new DataTransfer();
      dt.items.add(file);
      input.files = dt.files;
      showChosenFiles(input);
      const match = select && slotMatch(select, file.name);
      if (match) select.value = match;
    });
  }

  function initBulkEvidence(fieldset) {
    const pick = fieldset.querySelector('[data-bulk-pick]');
    const many = fieldset.querySelector('[data-bulk-many]');
    if (!pick || !many || typeof DataTransfer !== 'function') return;
    pick.hidden = false;
    many.addEventListener('change', function () { fillBulkRows(fieldset, many.files || []); });
  }

  // n. Tables wider than their box (a phone): a line above says they scroll sideways, and the
  //    box shows a shadow on the side that has more (app.css .table-scroll.scrolls).
  function markScrollingTables() {
    $all('.table-scroll, main table').forEach(function (box) {
      const overflow = window.getComputedStyle(box).overflowX;
      const wide = (overflow === 'auto' || overflow === 'scroll') && box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle('scrolls', wide);
      let hint = box.previousElementSibling;
      if (!hint || !hint.classList.contains('scroll-hint')) hint = null;
      if (wide && !hint) {
        hint = document.createElement('p');
        hint.className = 'scroll-hint';
        hint.textContent = MSG.scrollHint;
        box.parentNode.insertBefore(hint, box);
      }
      if (hint) hint.hidden = !wide;
    });
  }

  // ------------------------------------------------------------------
  // h. Confirm buttons, click dispatch
  // ------------------------------------------------------------------

  function onClick(e) {
    const target = closestEl(e.target, 'button, input[type="submit"], input[type="image"], a[data-confirm]');
    if (!target) return;
    const msg = target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    if (target.name === 'action' && target.value === 'upload' && uploadWithoutFile(target)) {
      e.preventDefault();
      return;
    }
    if (target.name === 'action' && target.value === 'upload' && uploadInPlace(target)) {
      e.preventDefault();
      return;
    }
    const form = target.form || null;
    if (form && (target.type === 'submit' || target.type === 'image')) {
      stateOf(form).lastSubmitter = target;
    }
    if (target.tagName === 'BUTTON' && target.hasAttribute('data-add-row')) {
      onAddRowClick(e, target);
    } else if (target.tagName === 'BUTTON' && target.hasAttribute('data-remove-row')) {
      onRemoveRowClick(e, target);
    }
  }

  // ------------------------------------------------------------------
  // i. Select-all checkboxes
  // ------------------------------------------------------------------

  let bulkToggling = false;

  function groupBoxes(master) {
    const name = master.getAttribute('data-select-all');
    return $all('input[type="checkbox"]').filter(function (cb) {
      return cb !== master && cb.name === name && (!master.form || cb.form === master.form);
    });
  }

  function syncMaster(master) {
    const boxes = groupBoxes(master).filter(function (cb) { return !cb.disabled; });
    const checked = boxes.filter(function (cb) { return cb.checked; }).length;
    master.checked = boxes.length > 0 && checked === boxes.length;
    master.indeterminate = checked > 0 && checked < boxes.length;
  }

  function onSelectAllChange(e) {
    const el = e.target;
    if (!el || el.tagName !== 'INPUT' || el.type !== 'checkbox') return;
    if (el.hasAttribute('data-select-all')) {
      bulkToggling = true;
      try {
        groupBoxes(el).forEach(function (cb) {
          if (!cb.disabled && cb.checked !== el.checked) {
            cb.checked = el.checked;
            fire(cb, 'change');
          }
        });
      } finally {
        bulkToggling = false;
      }
      el.indeterminate = false;
    } else if (el.name && !bulkToggling) {
      $all('input[data-select-all]').forEach(function (m) {
        if (m.getAttribute('data-select-all') === el.name) syncMaster(m);
      });
    }
  }

  // ------------------------------------------------------------------
  // Error summary: focus it on load, and focus fields from its links.
  // ------------------------------------------------------------------

  function initErrorSummary() {
    const summary = document.querySelector('.error-summary');
    if (!summary) return;
    if (!summary.hasAttribute('tabindex')) summary.setAttribute('tabindex', '-1');
    summary.focus();
    summary.addEventListener('click', function (e) {
      const a = closestEl(e.target, 'a[href^="#"]');
      if (!a) return;
      let id;
      try { id = decodeURIComponent(a.getAttribute('href').slice(1)); } catch (err) { return; }
      const target = document.getElementById(id);
      if (!target) return;
      e.preventDefault();
      const field = isFormControl(target) ? target : target.querySelector('input, select, textarea');
      target.scrollIntoView({ block: 'center' });
      (field || target).focus({ preventScroll: true });
    });
  }

  // ------------------------------------------------------------------
  // Init
  // ------------------------------------------------------------------

  function init() {
    startHeartbeat();
    clearSavedDrafts();
    updateCountersIn(document);
    $all('input[type="file"]').forEach(enhanceFileInput);
    updateAllGrowth();
    $all('table[data-table]').forEach(updateLimit);
    $all('input[data-select-all]').forEach(syncMaster);
    $all('form[data-autosave-url]').forEach(rememberSaved);  // before a local draft is restored
    offerDrafts();
    $all('[data-bulk-evidence]').forEach(initBulkEvidence);
    markScrollingTables();
    window.addEventListener('resize', markScrollingTables);
    sayKeptAfterSubmit();
    initErrorSummary();

    document.addEventListener('input', onFieldChange);
    document.addEventListener('change', onFieldChange);
    document.addEventListener('change', onSelectAllChange);
    document.addEventListener('click', onClick);
    document.addEventListener('keydown', onKeydown);
    document.addEventListener('paste', onPaste);
    document.addEventListener('submit', onSubmit);
    window.addEventListener('beforeunload', onBeforeUnload);
    window.addEventListener('pagehide', flushAllLocal);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') flushAllLocal();
    });
    // Back/forward cache: the page is shown again after a submission.
    window.addEventListener('pageshow', function (e) {
      if (!e.persisted) return;
      $all('form').forEach(function (f) {
        const st = formStates.get(f);
        if (st) st.submitting = false;
      });
    });
    window.addEventListener('online', function () {
      $all('form[data-autosave-url]').forEach(function (f) {
        const st = formStates.get(f);
        if (st && st.dirty) scheduleAutosave(f);
      });
    });
  }

  // Pure helpers exposed for tests and debugging only.
  window.HNWizard = Object.freeze({
    countChars: countChars,
    computeGrowth: computeGrowth,
    normalizeNumber: normalizeNumber,
    fileSize: sizeText,
    parseTsv: parseTsv
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());

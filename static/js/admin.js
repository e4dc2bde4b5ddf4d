/*
 * admin.js — progressive enhancement of the administrators' list (templates/admin/submissions.html).
 *
 * Loaded by the administrator templates with <script src="/static/js/admin.js" defer> (CSP: no
 * inline script). The page works without it: the server offers the moves that apply to at least
 * one row of the page, refuses an empty selection with a Chinese message, and reports per row why
 * a move did not apply. With it:
 *   - the bulk buttons stay disabled until a row is ticked;
 *   - the move list offers only moves whose source state is the state of at least one ticked row
 *     (each <option data-source> against each ticked <input data-state>);
 *   - a move that needs a comment (data-comment-label) makes the comment field required;
 *   - the confirmation names the move and how many ticked clusters it applies to.
 */
(function () {
  'use strict';

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function initBulkForm(form) {
    if (form.hasAttribute('data-bulk-ready')) return;  // the file may be loaded twice
    form.setAttribute('data-bulk-ready', '');
    const boxes = $all('input[type="checkbox"][name="ids"]', form);
    const select = form.querySelector('[data-bulk-move]');
    const options = select ? $all('option', select) : [];
    const submit = form.querySelector('[data-bulk-submit]');
    const deadline = form.querySelector('[data-bulk-deadline]');
    const comment = form.querySelector('[data-bulk-comment]');
    const status = form.querySelector('[data-bulk-status]');
    const placeholder = comment ? comment.getAttribute('placeholder') : '';

    function ticked() {
      return boxes.filter(function (cb) { return cb.checked; });
    }

    function chosen() {
      return select && select.selectedIndex >= 0 ? select.options[select.selectedIndex] : null;
    }

    function applicable(option, rows) {
      return rows.filter(function (cb) { return option && cb.getAttribute('data-state') === option.getAttribute('data-source'); });
    }

    function narrowMoves(rows) {
      const states = {};
      rows.forEach(function (cb) { states[cb.getAttribute('data-state')] = true; });
      options.forEach(function (opt) {
        const valid = rows.length === 0 || states[opt.getAttribute('data-source')] === true;
        opt.disabled = !valid;
        opt.hidden = !valid;
      });
      const current = chosen();
      if (current && current.disabled) {
        const first = options.filter(function (opt) { return !opt.disabled; })[0];
        if (first) select.value = first.value;
      }
    }

    function describe(rows, option, fits) {
      if (!rows.length) return '先勾选申报，再选择操作。';
      let text = '已勾选 ' + rows.length + ' 个集群';
      if (select && (!option || option.disabled)) text += '；所选申报当前都没有可批量执行的流程操作';
      else if (option) text += '，其中 ' + fits.length + ' 个可执行「' + option.getAttribute('data-label') + '」';
      return text + '。';
    }

    function update() {
      const rows = ticked();
      narrowMoves(rows);
      const option = chosen();
      const fits = applicable(option, rows);
      if (submit) submit.disabled = fits.length === 0;
      if (deadline) deadline.disabled = rows.length === 0;
      if (comment) {
        const label = option && !option.disabled ? option.getAttribute('data-comment-label') : null;
        comment.required = !!label;
        comment.setAttribute('placeholder', label ? '请填写' + label + '（必填）' : placeholder);
        comment.setAttribute('aria-required', label ? 'true' : 'false');
      }
      if (status) status.textContent = describe(rows, option, fits);
    }

    form.addEventListener('change', update);
    form.addEventListener('submit', function (e) {
      const submitter = e.submitter || null;
      if (!submitter || !submitter.hasAttribute('data-bulk-submit')) return;
      const rows = ticked();
      const option = chosen();
      const fits = applicable(option, rows);
      if (!fits.length) { e.preventDefault(); return; }
      let message = '确定对 ' + fits.length + ' 个集群执行「' + option.getAttribute('data-label') + '」？';
      if (rows.length > fits.length) {
        message += '（另有 ' + (rows.length - fits.length) + ' 个集群的状态不适用，将不执行。）';
      }
      if (!window.confirm(message)) e.preventDefault();
    });
    window.addEventListener('pageshow', update);  // ticks restored from the back-forward cache
    update();
  }

  function init() {
    $all('form[data-bulk-form]').forEach(initBulkForm);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();

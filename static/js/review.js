/*
 * review.js — the decision forms of a submission's page (county reviewer, administrator):
 * templates/shared/submission.html, form.move-form[data-review-confirm].
 *
 * Check first, then confirm: a move that needs a comment (审核意见, 退回意见) and has none
 * shows the page's own message under the box (.comment-missing, its text in data-missing) and
 * no dialog; only a complete form asks "确定执行…吗？".  The forms are novalidate so that the
 * browser's own (English) bubble does not come first; the server checks the comment again.
 * Loaded with <script src defer> (CSP: no inline script).  Without it the forms still work.
 */
(function () {
  'use strict';

  function tooLarge(form) {
    // wizard.js refuses files over the limits and explains why: no dialog before that
    return Array.prototype.some.call(form.querySelectorAll('input[type="file"][data-max-file-bytes]'), function (el) {
      const max = Number(el.getAttribute('data-max-file-bytes')) || 0;
      return Array.prototype.some.call(el.files || [], function (f) { return max && f.size > max; });
    });
  }

  function missingComment(form) {
    const box = form.querySelector('textarea[name="comment"][required]');
    if (!box) return null;
    const error = form.querySelector('.comment-missing');
    const field = box.closest('.field');
    const empty = box.value.trim() === '';
    if (error) {
      if (empty) error.textContent = error.getAttribute('data-missing');
      error.hidden = !empty;
    }
    if (field) field.classList.toggle('has-error', empty);
    if (empty) {
      box.setAttribute('aria-invalid', 'true');
    } else {
      box.removeAttribute('aria-invalid');
    }
    return empty ? box : null;
  }

  function onSubmit(e) {
    const form = e.currentTarget;
    const box = missingComment(form);
    if (box) {
      e.preventDefault();
      e.stopImmediatePropagation();
      box.focus();
      return;
    }
    if (tooLarge(form)) return;
    const msg = form.getAttribute('data-review-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('form.move-form[data-review-confirm]'), function (form) {
      form.addEventListener('submit', onSubmit);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();

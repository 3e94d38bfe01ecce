/*
 * The template page without a round trip: as staff type, the draft is posted
 * to the preview endpoint and the preview, the problems and the SMS counter
 * are updated in place. Without this file the "Preview" button does the same
 * with a whole page.
 */
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', function () {
    var form = document.getElementById('template-form');
    if (!form) return;
    var url = form.getAttribute('data-preview-url');
    var timer = null;
    function show(id, text) {
      var el = document.getElementById(id);
      if (el) el.textContent = text;
    }
    function update() {
      var body = new URLSearchParams(new FormData(form));
      fetch(url, { method: 'POST', body: body, credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (p) {
          if (!p) return;
          var unknown = document.getElementById('template-unknown');
          if (unknown) {
            unknown.textContent = p.unknown || '';
            unknown.hidden = !p.unknown;
          }
          show('preview-patron', p.patron || '');
          var list = document.getElementById('preview-problems');
          if (list) {
            list.textContent = '';
            for (var i = 0; i < p.problems.length; i++) {
              var li = document.createElement('li');
              li.textContent = p.problems[i].text;
              list.appendChild(li);
            }
            list.hidden = p.problems.length === 0;
          }
          if (!p.ok) return;
          show('preview-subject', p.subject);
          show('preview-text', p.text);
          if (p.smsText !== null) show('sms-counter', p.smsText);
          var frame = document.getElementById('preview-html');
          if (frame && typeof p.html === 'string') frame.setAttribute('srcdoc', p.html);
        })
        .catch(function () {});
    }
    function later() {
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(update, 300);
    }
    form.addEventListener('input', later);
    form.addEventListener('change', later);

    // "Insert" puts a placeholder where the cursor was in the last text field staff were in (the text by default).
    var target = document.getElementById('tp-text');
    form.addEventListener('focusin', function (e) {
      var el = e.target;
      if (el && (el.id === 'tp-text' || el.id === 'tp-html' || el.id === 'tp-subject')) target = el;
    });
    var buttons = document.querySelectorAll('[data-insert]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
      buttons[i].addEventListener('click', function (e) {
        if (!target) return;
        var text = e.currentTarget.getAttribute('data-insert');
        var start = target.selectionStart == null ? target.value.length : target.selectionStart;
        var end = target.selectionEnd == null ? start : target.selectionEnd;
        target.value = target.value.slice(0, start) + text + target.value.slice(end);
        target.focus();
        target.setSelectionRange(start + text.length, start + text.length);
        later();
      });
    }
  });
})();

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
    form.addEventListener('input', function () {
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(update, 300);
    });
  });
})();

/*
 * Small conveniences for the staff pages. Every page works without this
 * file (forms post; a running run's page refreshes itself through a meta
 * refresh inside <noscript>); with it, a run's
 * progress updates in place, lists get a "select all" box, and the print
 * view has a print button.
 */
(function () {
  'use strict';

  // A run at work: ask its status endpoint every two seconds, show the count,
  // and reload the page once the run is done so the review appears.
  function watchRun(box) {
    var url = box.getAttribute('data-status-url');
    var out = box.querySelector('[data-run-progress]');
    var bar = box.querySelector('.progress > span');
    function tick() {
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (s) {
          if (!s) return;
          if (out && typeof s.text === 'string') out.textContent = s.text;
          if (bar && typeof s.percent === 'number') bar.style.width = s.percent + '%';
          if (s.status !== 'running') window.location.reload();
          else window.setTimeout(tick, 2000);
        })
        .catch(function () {
          window.setTimeout(tick, 5000);
        });
    }
    window.setTimeout(tick, 1000);
  }

  // "Select all" for lists of checkboxes: a box with data-select-all="name".
  function selectAll(master) {
    var name = master.getAttribute('data-select-all');
    master.addEventListener('change', function () {
      var boxes = document.querySelectorAll('input[type=checkbox][name="' + name + '"]');
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = master.checked;
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var runs = document.querySelectorAll('[data-status-url]');
    for (var i = 0; i < runs.length; i++) watchRun(runs[i]);
    var masters = document.querySelectorAll('[data-select-all]');
    for (var j = 0; j < masters.length; j++) {
      masters[j].hidden = false;
      selectAll(masters[j]);
    }
    var printers = document.querySelectorAll('[data-print]');
    for (var k = 0; k < printers.length; k++) {
      printers[k].hidden = false;
      printers[k].addEventListener('click', function () {
        window.print();
      });
    }
  });
})();

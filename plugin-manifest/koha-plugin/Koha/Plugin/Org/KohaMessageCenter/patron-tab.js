/*
 * Message Center: the patron's messages inside Koha's patron pages.
 * On the patron's page (moremember.pl) a tab beside Checkouts, Holds …;
 * on every patron page an entry in the patron menu. The tab's iframe is
 * loaded only when the tab is opened: the plugin then signs a fresh launch
 * token and sends the iframe on to the sidecar.
 *
 * Loaded as a file by the plugin's intranet_js, its settings in the script
 * element's data-kmc-patron-tab attribute: no inline script, so it runs
 * under a Content-Security-Policy without 'unsafe-inline'.
 */
(function () {
  'use strict';
  var script = document.currentScript || document.querySelector('script[data-kmc-patron-tab]');
  var cfg;
  try {
    cfg = JSON.parse((script && script.getAttribute('data-kmc-patron-tab')) || '');
  } catch (e) {
    return;
  }
  if (!cfg || typeof cfg !== 'object') return;
  var query = new URLSearchParams(window.location.search);
  var borrowernumber = query.get('borrowernumber') || '';
  if (!/\/members\//.test(window.location.pathname) || !/^[1-9][0-9]{0,9}$/.test(borrowernumber)) return;

  function pluginUrl(launch) {
    return (
      cfg.runUrl +
      '?class=' +
      encodeURIComponent(cfg.pluginClass) +
      '&method=tool&page=' +
      encodeURIComponent(cfg.pageId) +
      '&borrowernumber=' +
      borrowernumber +
      (launch ? '&launch=1' : '')
    );
  }

  function addTab() {
    if (!/\/members\/moremember\.pl$/.test(window.location.pathname)) return false;
    // Koha's patron page keeps its tabs in #finesholdsissues (Bootstrap tabs since 22.11).
    var box = document.getElementById('finesholdsissues');
    var list = box && box.querySelector('.nav-tabs');
    var panels = box && box.querySelector('.tab-content');
    if (!list || !panels || document.getElementById('kmc-messages-tab')) return false;

    var item = document.createElement('li');
    item.className = 'nav-item';
    item.setAttribute('role', 'presentation');
    var link = document.createElement('a');
    link.className = 'nav-link';
    link.id = 'kmc-messages-tab';
    link.href = '#kmc-messages-panel';
    link.setAttribute('role', 'tab');
    link.setAttribute('aria-controls', 'kmc-messages-panel');
    link.setAttribute('aria-selected', 'false');
    link.setAttribute('data-bs-toggle', 'tab');
    link.setAttribute('data-toggle', 'tab');
    link.textContent = cfg.title;
    item.appendChild(link);
    list.appendChild(item);

    var panel = document.createElement('div');
    panel.className = 'tab-pane';
    panel.id = 'kmc-messages-panel';
    panel.setAttribute('role', 'tabpanel');
    panel.setAttribute('aria-labelledby', 'kmc-messages-tab');
    var frame = document.createElement('iframe');
    frame.id = 'kmc-messages-frame';
    frame.title = cfg.menuTitle;
    frame.style.width = '100%';
    frame.style.height = '70vh';
    frame.style.border = '0';
    panel.appendChild(frame);
    panels.appendChild(panel);

    link.addEventListener('click', function () {
      if (!frame.getAttribute('src')) frame.setAttribute('src', pluginUrl(true));
    });
    return true;
  }

  function addMenuEntry() {
    // The patron menu on the left of every patron page.
    var menu = document.querySelector('#menu ul');
    if (!menu || document.getElementById('kmc-messages-menu')) return;
    var item = document.createElement('li');
    item.id = 'kmc-messages-menu';
    var link = document.createElement('a');
    link.href = pluginUrl(false);
    link.textContent = cfg.menuTitle;
    item.appendChild(link);
    menu.appendChild(item);
  }

  function start() {
    addTab();
    addMenuEntry();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

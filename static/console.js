// The console's few behaviours that need a script. Every page works without it; it is a file
// (no inline script or handler) so that the Content-Security-Policy can forbid inline script.
'use strict';

// <form data-confirm="…"> or <button data-confirm="…">: ask before the post.
document.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-confirm], input[type=submit][data-confirm]');
  if (button && !window.confirm(button.dataset.confirm)) {
    e.preventDefault();
  }
});
document.addEventListener('submit', (e) => {
  const form = e.target;
  if (form.matches('form[data-confirm]') && !window.confirm(form.dataset.confirm)) {
    e.preventDefault();
  }
});

// <input type=checkbox data-select-all="NAME">: ticks or clears every NAME box of its form.
document.addEventListener('change', (e) => {
  const all = e.target.closest('input[data-select-all]');
  if (!all) return;
  for (const c of all.form.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) {
    c.checked = all.checked;
  }
});

// <a data-back href="/">: back in the history when there is one (else the link's page).
document.addEventListener('click', (e) => {
  const back = e.target.closest('a[data-back]');
  if (back && window.history.length > 1) {
    e.preventDefault();
    window.history.back();
  }
});

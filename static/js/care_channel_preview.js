/* Care channel form: the preview follows the form as the admin types.
 *
 * On every input or change in a form with data-preview-url, the form's fields (the CSRF
 * token left out: the preview is a GET that changes nothing) are sent to that URL, shortly
 * after the typing pauses, and the HTML it answers replaces #channel-preview. An answer that
 * arrives after a newer request was sent is dropped, so the preview always shows the latest
 * input. Without JavaScript the preview is the one the server drew with the page.
 */
(function () {
  "use strict";

  var PAUSE_MS = 150;

  function bind(form) {
    var target = document.getElementById("channel-preview");
    if (!target || !window.fetch || !window.URLSearchParams) return;
    var timer = null;
    var latest = 0;

    function refresh() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (name !== "csrf_token") params.append(name, value);
      });
      var ticket = ++latest;
      fetch(form.dataset.previewUrl + "?" + params.toString(), {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store",
      })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null && ticket === latest) target.innerHTML = html;
        })
        .catch(function () { /* the next keystroke will try again */ });
    }

    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, PAUSE_MS);
    }

    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
  }

  document.querySelectorAll("form[data-preview-url]").forEach(bind);
})();

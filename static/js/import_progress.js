/* Lead import: send the form in the background and show how far the server got.
 *
 * A form with data-progress-url is posted with fetch(FormData); meanwhile the URL is polled
 * every 500 ms for {done, total, phase} and a <progress> bar follows it. When the post
 * answers, its page replaces this one: after a redirect (the import report) at the address
 * it was redirected to (response.url), otherwise (the form again, with the error beside the
 * field) at this one. Without JavaScript, or without fetch, the form simply posts as usual.
 */
(function () {
  "use strict";

  var POLL_MS = 500;

  function bind(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form);
    });
  }

  function send(form) {
    var box = form.querySelector("[data-progress]");
    var bar = box && box.querySelector("progress");
    var label = box && box.querySelector("[data-progress-label]");
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    if (box) box.hidden = false;
    if (bar) bar.removeAttribute("value"); // indeterminate until the server reports

    var timer = window.setInterval(function () {
      fetch(form.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        cache: "no-store",
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (progress) {
          if (!progress || !progress.total || !bar) return;
          bar.max = progress.total;
          bar.value = Math.min(progress.done, progress.total);
          if (label) label.textContent = progress.phase + " " + progress.done + "/" + progress.total;
        })
        .catch(function () { /* the next poll will try again */ });
    }, POLL_MS);

    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        window.clearInterval(timer);
        return response.text().then(function (html) {
          if (response.redirected) {
            // fetch followed the redirect to the report: show what it fetched (a second GET
            // would lose the flashed message) at the report's own address.
            if (!window.history.pushState) {
              window.location.assign(response.url);
              return;
            }
            window.history.pushState(null, "", response.url);
          }
          replacePage(html);
        });
      })
      .catch(function () {
        // The background request failed (network): fall back to an ordinary post.
        window.clearInterval(timer);
        HTMLFormElement.prototype.submit.call(form);
      });
  }

  function replacePage(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    document.title = page.title;
    document.body.replaceWith(document.adoptNode(page.body));
    init();
  }

  function init() {
    if (!window.fetch || !window.FormData || !window.DOMParser) return;
    var forms = document.querySelectorAll("form[data-progress-url]");
    for (var i = 0; i < forms.length; i += 1) bind(forms[i]);
  }

  init();
})();

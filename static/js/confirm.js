// Asks before a consequential form is sent: <form data-confirm="确定…？">. Cancelling keeps the
// form unsent. This replaces inline onsubmit handlers, which the Content-Security-Policy
// forbids (crm/web_security.py).
(function () {
  "use strict";
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var question = form.getAttribute && form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) event.preventDefault();
    },
    true
  );
})();

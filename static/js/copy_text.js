// One-tap copy of a ready text (a greeting staff send from their own WeChat): a button with
// data-copy="<id>" copies the text of the element with that id. The Clipboard API needs a
// secure context and is missing from older WeChat browsers, so a hidden textarea and
// execCommand("copy") stand in; when both fail the button asks for a long press instead.
(function () {
  "use strict";

  function copyWithTextarea(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "0";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    area.setSelectionRange(0, text.length);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied;
  }

  function show(button, copied) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = copied ? "已复制" : "请长按文字复制";
    window.setTimeout(function () {
      button.textContent = label;
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy"));
    var text = source ? source.textContent : "";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          show(button, true);
        },
        function () {
          show(button, copyWithTextarea(text));
        }
      );
    } else {
      show(button, copyWithTextarea(text));
    }
  });
})();

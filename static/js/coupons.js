/* Copy-code buttons in the coupon wallet. Without JavaScript the buttons stay hidden and the
   code is plain, selectable text. The buttons are real <button>s: mouse, touch and keyboard
   (Enter, Space) all fire "click". */
(function () {
  "use strict";

  function copyWithSelection(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        if (!copyWithSelection(text)) { throw new Error("copy failed"); }
      });
    }
    return copyWithSelection(text) ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function selectCode(button) {
    var code = button.parentNode.querySelector(".coupon-code");
    if (!code || !window.getSelection) { return; }
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var label = button.textContent;
    var status = button.parentNode.querySelector("[data-copy-status]");
    var timer = null;
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(button.getAttribute("data-copy")).then(function () {
        button.textContent = button.getAttribute("data-copied-label");
        if (status) { status.textContent = button.getAttribute("data-copied-label"); }
      }, function () {
        selectCode(button);
        if (status) { status.textContent = button.getAttribute("data-failed-label"); }
      });
      clearTimeout(timer);
      timer = setTimeout(function () {
        button.textContent = label;
        if (status) { status.textContent = ""; }
      }, 3000);
    });
  });
})();

/* What every page needs from script; no inline script or style anywhere (the
   Content-Security-Policy refuses both). Tier badges take their tier's colour from
   data-badge-colour; without JavaScript they keep the stylesheet's neutral colour. */
(function () {
  "use strict";

  var COLOUR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;

  function colourBadges(root) {
    var badges = root.querySelectorAll("[data-badge-colour]");
    for (var i = 0; i < badges.length; i++) {
      var colour = badges[i].getAttribute("data-badge-colour");
      if (COLOUR.test(colour)) {
        badges[i].style.backgroundColor = colour;
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { colourBadges(document); });
  } else {
    colourBadges(document);
  }
})();

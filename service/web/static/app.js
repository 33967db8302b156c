/* Small helpers of the workbench pages (no library): the verdict form's type list, and an
 * actor page's exception boxes. */
(function () {
  "use strict";

  /* Offer only the types the chosen decision admits (the server checks it again). */
  function verdictTypes() {
    var decision = document.getElementById("decision");
    var type = document.getElementById("verdict-type");
    if (!decision || !type) return;
    function sync() {
      var chosen = decision.value;
      var admitted = 0;
      Array.prototype.forEach.call(type.options, function (opt) {
        var fits = opt.hasAttribute("data-none") ? false : opt.getAttribute("data-decision") === chosen;
        opt.hidden = !fits && !opt.hasAttribute("data-none");
        opt.disabled = opt.hidden;
        if (fits) admitted += 1;
      });
      var none = type.querySelector("option[data-none]");
      if (none) { none.hidden = admitted > 0; none.disabled = admitted > 0; }
      var current = type.options[type.selectedIndex];
      if (!current || current.disabled) {
        var first = Array.prototype.filter.call(type.options, function (o) { return !o.disabled; })[0];
        if (first) type.value = first.value;
      }
      type.required = admitted > 0;
    }
    decision.addEventListener("change", sync);
    sync();
  }

  /* On an actor's page, choosing a dossier's own decision marks it as an exception. */
  function exceptionChoices() {
    Array.prototype.forEach.call(document.querySelectorAll("select.exception-choice"), function (sel) {
      sel.addEventListener("change", function () {
        var box = sel.parentNode.querySelector("input[name=exception]");
        if (box) box.checked = true;
      });
    });
  }

  function ready() { verdictTypes(); exceptionChoices(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();

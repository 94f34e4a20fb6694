// GovShare UI behaviour. No inline scripts anywhere (CSP script-src 'self').
(function () {
  "use strict";

  // Destructive plain forms: <form data-confirm="确定要…？"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
    var copy = event.target.closest && event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      var source = document.getElementById(copy.getAttribute("data-copy"));
      if (source) {
        navigator.clipboard.writeText(source.textContent.trim());
        copy.textContent = "已复制";
      }
    }
  });

  // Fields that matter only for some values of another field (the server checks again):
  // <div data-show-when="sharing_type=conditional|not_shared"> is shown while the form's field
  // `sharing_type` has one of those values, and its [data-required-when-shown] fields are required
  // only then; <input data-required-when="item_data_type=C|N|Y"> is required while the field of that
  // name in the same [data-when-scope] (a table row), or else the form, has one of the values.
  function holds(rule, scope) {
    var parts = rule.split("=");
    var field = scope.querySelector('[name="' + parts[0] + '"]');
    return !field || parts[1].split("|").indexOf(field.value) >= 0;
  }
  function applyWhen(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var shown = holds(el.getAttribute("data-show-when"), el.closest("form") || document);
      el.hidden = !shown;
      el.querySelectorAll("[data-required-when-shown]").forEach(function (f) { f.required = shown; });
    });
    root.querySelectorAll("[data-required-when]").forEach(function (el) {
      var scope = el.closest("[data-when-scope]") || el.closest("form") || document;
      el.required = holds(el.getAttribute("data-required-when"), scope);
    });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form");
    if (form) { applyWhen(form); }
    // <select data-autosubmit> submits its (GET) form as soon as a choice is made.
    if (form && event.target.hasAttribute && event.target.hasAttribute("data-autosubmit")) { form.requestSubmit(); }
  });
  document.addEventListener("DOMContentLoaded", function () { applyWhen(document); });

  // Table editors: <button data-add-row="TEMPLATE_ID" data-rows="TBODY_ID"> appends a copy of the
  // <template>'s row, whose [data-row-index] fields get the next row id (the tbody's data-next-row),
  // so checkboxes post ids that stay aligned with their row; [data-remove-row] removes its row.
  document.addEventListener("click", function (event) {
    var add = event.target.closest && event.target.closest("[data-add-row]");
    if (add) {
      var template = document.getElementById(add.getAttribute("data-add-row"));
      var rows = document.getElementById(add.getAttribute("data-rows"));
      if (!template || !rows) { return; }
      var index = parseInt(rows.getAttribute("data-next-row") || "0", 10);
      rows.setAttribute("data-next-row", String(index + 1));
      var copy = template.content.cloneNode(true);
      copy.querySelectorAll("[data-row-index]").forEach(function (f) { f.value = String(index); });
      var row = copy.firstElementChild;
      rows.appendChild(copy);
      applyWhen(row);
      var first = row.querySelector("input:not([type=hidden])");
      if (first) { first.focus(); }
      return;
    }
    var remove = event.target.closest && event.target.closest("[data-remove-row]");
    if (remove && remove.closest("tr")) {
      remove.closest("tr").remove();
    }
  });

  // Print buttons: <button data-print> prints the page (the print stylesheet keeps the document only).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) {
      window.print();
    }
  });

  // Charts: <div class="chart" data-chart="ID"> with <script type="application/json" id="ID">{echarts option}</script>.
  function drawCharts(root) {
    if (!window.echarts) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) { return; }
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
      chart.setOption(JSON.parse(source.textContent));
      window.addEventListener("resize", function () { chart.resize(); });
      // Drill-down: data-chart-links="ID" names a JSON object {category: same-origin path}; a click on
      // a bar or on its axis label (axis with triggerEvent) opens the records behind it.
      var links = document.getElementById(el.getAttribute("data-chart-links") || "");
      if (links && !el.dataset.linked) {
        var targets = JSON.parse(links.textContent);
        el.dataset.linked = "1";
        chart.on("click", function (params) {
          var key = params.componentType === "series" ? params.name : params.value;
          var target = Object.prototype.hasOwnProperty.call(targets, key) ? targets[key] : null;
          if (typeof target === "string" && target.charAt(0) === "/" && target.charAt(1) !== "/") {
            window.location.assign(target);
          }
        });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });
})();

// EmailGator: small enhancements only; every page works without this script.
// An element with data-refresh="ms" is replaced by the same element of a fresh copy of the page,
// while the tab is visible and the user is not in the middle of a form.
(function () {
  function refresh(el) {
    var every = parseInt(el.getAttribute("data-refresh"), 10) || 5000;
    setInterval(function () {
      if (document.hidden || (document.activeElement && document.activeElement.form)) return;
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        })
        .catch(function () {});
    }, every);
  }
  // "All N emails" also ticks the visible boxes, so what is selected is what is seen.
  function selectAll(box) {
    box.addEventListener("change", function () {
      box.form.querySelectorAll("input[name=ids]").forEach(function (item) { item.checked = box.checked; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh][id]").forEach(refresh);
    document.querySelectorAll("[data-select-all]").forEach(selectAll);
  });
})();

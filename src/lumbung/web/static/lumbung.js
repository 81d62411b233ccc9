/* Lumbung: small enhancements only; every page works without this file. */
document.addEventListener("change", function (event) {
  var box = event.target;
  if (box && box.matches && box.matches("input[data-select-all]")) {
    document.querySelectorAll("input[name='" + box.dataset.selectAll + "']").forEach(function (c) {
      c.checked = box.checked;
    });
  }
});

// Renders the Vega-Lite specs the server embeds as JSON data blocks (no inline script: see the page's CSP).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("div.chart[data-spec]").forEach(function (element) {
    var source = document.getElementById(element.dataset.spec);
    if (!source) { return; }
    vegaEmbed(element, JSON.parse(source.textContent), { actions: false, renderer: "svg" })
      .catch(function (error) { element.textContent = "chart could not be drawn: " + error; });
  });
});

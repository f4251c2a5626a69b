// Power (kW) and energy (kWh) of one session, from the meter values embedded in the page.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("session-chart");
  const source = document.getElementById("session-chart-data");
  if (!canvas || !source) return;
  if (!window.Chart) {
    // Neither the CDN nor this server's copy of Chart.js arrived: say so where it would be.
    const note = document.createElement("p");
    note.className = "muted chart-missing";
    note.textContent = "The chart could not be drawn: its script (Chart.js) did not load. The readings are listed below.";
    canvas.replaceWith(note);
    return;
  }
  const data = JSON.parse(source.textContent);
  const labels = data.points.map((p) => p.t);
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Power (kW)", data: data.points.map((p) => p.kw), yAxisID: "power",
          borderColor: "#d97706", backgroundColor: "#d9770633", spanGaps: true, tension: 0.2 },
        { label: "Energy (kWh)", data: data.points.map((p) => p.kwh), yAxisID: "energy",
          borderColor: "#2563eb", backgroundColor: "#2563eb33", spanGaps: true, tension: 0.2 },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      interaction: { mode: "index", intersect: false },
      scales: {
        power: { type: "linear", position: "left", title: { display: true, text: "kW" }, beginAtZero: true },
        energy: { type: "linear", position: "right", title: { display: true, text: "kWh" },
                  beginAtZero: true, grid: { drawOnChartArea: false } },
      },
    },
  });
});

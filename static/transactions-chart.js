// Energy (kWh) per day of the filtered sessions, from the totals embedded in the page.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("energy-per-day");
  const source = document.getElementById("energy-per-day-data");
  if (!canvas || !source) return;
  if (!window.Chart) {
    // Neither the CDN nor this server's copy of Chart.js arrived: the table below has it.
    const note = document.createElement("p");
    note.className = "muted chart-missing";
    note.textContent = "The chart could not be drawn: its script (Chart.js) did not load. The days are listed below.";
    canvas.replaceWith(note);
    return;
  }
  const days = JSON.parse(source.textContent).days;
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: days.map((d) => d.day),
      datasets: [{ label: "Energy (kWh)", data: days.map((d) => d.kwh),
                   backgroundColor: "#2563eb99", borderColor: "#2563eb" }],
    },
    options: {
      animation: false,
      responsive: true,
      scales: { y: { beginAtZero: true, title: { display: true, text: "kWh" } } },
    },
  });
});

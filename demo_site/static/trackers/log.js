// Shows on the page which fake tracker ran (essential: the demo's own log).
window.demoLog = (line) => {
  const item = document.createElement("li");
  item.textContent = line;
  document.getElementById("tracker-log").append(item);
};

// "Print this shortlist": shows the print button (hidden without JavaScript, when the browser's own Print is the way)
// and prints the page with print.css. A file, not an inline script: the Content-Security-Policy allows none.
for (const button of document.querySelectorAll(".pm-print-button")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}

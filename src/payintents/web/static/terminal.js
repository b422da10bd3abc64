// The virtual terminal's screen follows its session: ask the server what it shows twice a second.
// Without script the page still works: the buttons are a plain form and the page shows the screen.
"use strict";
(() => {
  const machine = document.querySelector(".card-machine");
  if (!machine) return;
  const show = (id, text) => {
    const node = document.getElementById(id);
    if (node && node.textContent !== text) node.textContent = text;
  };
  const poll = async () => {
    try {
      const answer = await fetch(machine.dataset.screenUrl, { credentials: "same-origin" });
      if (answer.ok) {
        const screen = await answer.json();
        show("screen-text", screen.text);
        show("screen-amount", screen.amount);
        show("screen-kind", screen.kind);
      }
    } finally {
      window.setTimeout(poll, 500);
    }
  };
  window.setTimeout(poll, 500);
})();

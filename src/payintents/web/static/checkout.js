// The sandbox checkout's only script, and nothing depends on it: the pages are plain forms the
// server answers. It fills the card form when a test card's "Use" button is pressed (the buttons
// stay hidden without script). A second press of Pay needs no script either: the server answers
// a paid intent's form with the same redirect as the first.
"use strict";
document.querySelectorAll("button.use-card").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => {
    const form = document.getElementById("card-form");
    form.elements.cardNumber.value = button.dataset.number;
    form.elements.expiryDate.value = button.dataset.expiry;
    form.elements.cvv.value = button.dataset.cvv;
    form.elements.cardNumber.focus();
  });
});
